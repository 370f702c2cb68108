// ticks.js: lost / duplicate / replay accounting for one clock stream.
// Why a module of its own: "no tick is lost across a reconnect" is the claim
// the page exists to show, so the rule that turns seq numbers into counters
// lives here, with no DOM, where it is easy to read (and to test).
//
// The rule: after the first tick each tick should be previous seq + 1.
//   - a larger jump adds (jump - 1) to lost: ticks that silently vanished;
//   - a gap event {from,to} adds (to - from + 1) to lost too, but also to
//     gapLost: the server said it could no longer replay them (explained);
//   - a seq equal to or below the previous one is a duplicate.
//
// Replayed: on a connection that resumed (it named a last seq), a tick that
// was already due before the server said hello can only have come from the
// replay buffer. "Already due" allows for the usual latency, so that a tick
// sent live a moment after hello is not miscounted: a tick is replayed when
// its time + the median latency of recent live ticks is before hello.
//
// At connect: a connection that did not resume gets the current tick at
// once, made up to an interval before it connected. Its "latency" is that
// age, not the transport's: it is marked atConnect, kept out of the live
// latencies, and the chart shows it apart.

const LATENCY_SAMPLES = 15;

export class TickCounter {
  constructor() {
    this.last = null; // last seq seen, null before the first tick
    this.ticks = 0;
    this.lost = 0;
    this.gapLost = 0;
    this.duplicates = 0;
    this.replayed = 0;
    this.openedAt = 0; // Date.now() of the current connection's open
    this.helloAt = 0; // Date.now() of its hello (0 before it came)
    this.resumed = false; // whether that connection resumed from a last seq
    this.onConnection = 0; // ticks on the current connection
    this.liveDelays = []; // latency of recent live ticks, ms
  }

  // opened records a new connection; resumed says whether it asked the
  // server to continue after this.last (Last-Event-ID or ?lastEventId=).
  opened(now = Date.now()) {
    this.openedAt = now;
    this.helloAt = 0;
    this.resumed = this.last !== null;
    this.onConnection = 0;
  }

  // hello records the server's first message on the connection: every tick
  // due before it was queued as the replay, every later one is live.
  hello(now = Date.now()) {
    this.helloAt = now;
  }

  // typicalDelay is the median latency of recent live ticks (0 before any).
  typicalDelay() {
    const d = this.liveDelays;
    if (d.length === 0) return 0;
    const s = [...d].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  }

  // tick records one tick and says what it means:
  //   {kind: "first"} | {kind: "next"} | {kind: "jump", from, to}
  //   | {kind: "duplicate", after}
  // plus replayed (see the top of this file; the server may also say so
  // itself with a true "replay" field), atConnect (the current tick a new
  // connection gets at once, see the top too) and delay, its latency in ms
  // (NaN when time does not parse).
  tick(seq, time, flaggedReplay = false, now = Date.now()) {
    this.ticks++;
    this.onConnection++;
    const t = Date.parse(time);
    const delay = Number.isFinite(t) ? now - t : NaN;
    const ref = this.helloAt || this.openedAt;
    const dueBefore = Number.isFinite(t) && t + this.typicalDelay() < ref;
    const replayed = flaggedReplay || (this.resumed && dueBefore);
    const atConnect = !replayed && !this.resumed && dueBefore && this.onConnection === 1;
    const r = this.count(seq);
    r.replayed = replayed;
    r.atConnect = atConnect;
    r.delay = delay;
    if (replayed) {
      this.replayed++;
    } else if (!atConnect && Number.isFinite(delay)) {
      this.liveDelays.push(delay);
      if (this.liveDelays.length > LATENCY_SAMPLES) this.liveDelays.shift();
    }
    return r;
  }

  // count applies the seq rule (top of this file) and says which case it was.
  count(seq) {
    const prev = this.last;
    if (prev === null) {
      this.last = seq;
      return { kind: "first" };
    }
    if (seq <= prev) {
      this.duplicates++;
      return { kind: "duplicate", after: prev };
    }
    this.last = seq;
    if (seq === prev + 1) return { kind: "next" };
    this.lost += seq - prev - 1;
    return { kind: "jump", from: prev + 1, to: seq - 1 };
  }

  // gap records the server's notice that ticks from..to will never come.
  // It returns how many ticks that is. The next tick after a gap is to + 1,
  // so this.last moves to `to` and the gap is not counted twice as a jump.
  gap(from, to) {
    const n = to - from + 1;
    this.lost += n;
    this.gapLost += n;
    if (this.last === null || to > this.last) this.last = to;
    return n;
  }
}

// describeDelay says what the latest tick's latency is: a live latency, or
// the age of a replayed tick or of the tick sent at connect.
export function describeDelay(r) {
  if (!Number.isFinite(r.delay)) return "-";
  if (r.replayed) return `${r.delay} ms (replayed)`;
  if (r.atConnect) return `${r.delay} ms (at connect)`;
  return `${r.delay} ms`;
}
