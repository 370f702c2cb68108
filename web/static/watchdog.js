// watchdog.js: notices a connection that looks open but carries nothing.
// Why: a path can die without closing (a NAT entry expires, a laptop
// sleeps, a proxy stops forwarding). Then no close and no error ever
// comes: EventSource has no timeout of its own and stays OPEN, and a
// WebSocket's ping/pong frames are hidden from scripts, so the socket stays
// OPEN too. The server promises, in its hello (heartbeat_ms), never to stay
// silent longer than that: after that much silence it sends a keep-alive.
// So a panel that hears nothing for twice that knows the path is dead,
// abandons the connection and reconnects with its last id.
//
// One timer, not one per message: it is set for (last message + limit) and,
// when it fires early because something came meanwhile, set again.

// limitFor is how long a connection may stay silent before its panel gives
// up on it: {ms, why}, or null while it cannot be known (no hello with
// heartbeat_ms: no watchdog). seesKeepAlives says whether the script sees the
// keep-alives. WebSocket (true): twice the heartbeat, since the server
// sends a {"type":"keepalive"} message after that much silence. SSE
// (false): the keep-alive is a comment line, which EventSource swallows: a
// script hears only events, so between ticks it may hear nothing for a
// whole tick interval even on a healthy stream. So its limit is twice the
// larger of the two, and it waits until the interval is known (two ticks,
// or /stats) rather than guess.
export function limitFor(heartbeatMs, intervalMs, seesKeepAlives) {
  const hb = heartbeatMs;
  if (!Number.isFinite(hb) || hb <= 0) return null;
  if (seesKeepAlives) return { ms: 2 * hb, why: `2 × heartbeat ${hb} ms` };
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return null;
  if (intervalMs > hb) return { ms: 2 * intervalMs, why: `2 × tick interval ${intervalMs} ms` };
  return { ms: 2 * hb, why: `2 × heartbeat ${hb} ms` };
}

// A timer that runs this much after it was due means the page itself was
// held up (a busy machine, a background tab): messages may be waiting in
// the queue behind it, so it looks once more, a moment later, before
// calling the connection dead.
const LATE_MS = 250;
const GRACE_MS = 100;

export class Watchdog {
  // onFire({lastAt, at, silentMs, limitMs}) is called once the connection
  // has been silent for limitMs; the watchdog is then stopped.
  constructor(onFire) {
    this.onFire = onFire;
    this.limitMs = 0; // 0: not armed
    this.lastAt = Date.now();
    this.timer = null;
    this.dueAt = 0;
    this.graced = false;
  }

  // feed records that something arrived now.
  feed(now = Date.now()) {
    this.lastAt = now;
    this.graced = false;
  }

  // arm sets the limit in ms (0 or null disarms). The silence counts from
  // the last feed.
  arm(limitMs) {
    const ms = Number.isFinite(limitMs) && limitMs > 0 ? limitMs : 0;
    if (ms === this.limitMs && (this.timer !== null || ms === 0)) return;
    this.limitMs = ms;
    this.schedule(this.lastAt + ms);
  }

  // stop disarms it (the connection is gone, or being replaced).
  stop() {
    this.limitMs = 0;
    clearTimeout(this.timer);
    this.timer = null;
  }

  schedule(at) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.limitMs === 0) return;
    this.dueAt = at;
    this.timer = setTimeout(() => this.check(), Math.max(0, at - Date.now()));
  }

  check() {
    this.timer = null;
    if (this.limitMs === 0) return;
    const now = Date.now();
    const due = this.lastAt + this.limitMs;
    if (now < due) return this.schedule(due); // something came meanwhile
    if (!this.graced && now - this.dueAt > LATE_MS) {
      this.graced = true;
      return this.schedule(now + GRACE_MS);
    }
    const info = { lastAt: this.lastAt, at: now, silentMs: now - this.lastAt, limitMs: this.limitMs };
    this.stop();
    this.onFire(info);
  }
}
