// timeline.js: the reconnect timeline of one panel. Each time the
// connection goes away (Drop, a server restart, a network cut) one episode
// is added, newest first, and filled in as it happens:
//
//   drop 0 ms → reconnect +305 ms → resumed +307 ms
//   who reconnected and how (the browser by itself, or this page's code)
//   gap 307 ms · 3 ticks replayed (1235–1237) · lost 0
//
// A stall (the connection looked open but carried nothing, and the panel's
// watchdog gave up on it, watchdog.js) has one more step, and counts from
// the last message received, when the silence began:
//
//   silent 0 ms → stalled +1003 ms → reconnect +1160 ms → resumed +1172 ms
//   detected after 1003 ms · back 169 ms later · 11 ticks replayed · lost 0
//
// Why a module of its own: it is the one place that turns the transports'
// events into the story the class should see, with measured times.

const KEEP = 6;

export class Timeline {
  // list: the <ol data-field="timeline">; chart: the panel's LatencyChart,
  // which gets a vertical line at each step.
  constructor(list, chart) {
    this.list = list;
    this.chart = chart;
    this.all = []; // every episode, oldest first
  }

  // start opens an episode: at is when it began (the Drop click, or when
  // the loss was noticed), lastSeq the last tick seen before it.
  // kind is "drop" (the connection went away) or "stall" (the watchdog
  // gave up on a silent one at stalledAt; at is then the last message).
  start({ at, cause, lastSeq, lostBefore, by, kind = "drop", stalledAt = null }) {
    const ep = new Episode(this, { at, cause, lastSeq, lostBefore, by, kind, stalledAt });
    this.all.push(ep);
    this.list.prepend(ep.li);
    while (this.list.childElementCount > KEEP) this.list.lastElementChild.remove();
    this.chart.mark(stalledAt ?? at, "drop");
    return ep;
  }

  snapshot() {
    return this.all.map((e) => e.snapshot());
  }
}

class Episode {
  constructor(timeline, { at, cause, lastSeq, lostBefore, by, kind, stalledAt }) {
    this.timeline = timeline;
    this.kind = kind;
    this.stalledAt = stalledAt;
    this.at = at;
    this.cause = cause;
    this.lastSeq = lastSeq;
    this.lostBefore = lostBefore;
    this.by = by;
    this.phase = kind === "stall" ? "stalled" : "dropped";
    this.attempts = 0;
    this.reconnectAt = null;
    this.resumedAt = null;
    this.firstSeq = null;
    this.replayed = 0;
    this.replayFrom = null;
    this.replayTo = null;
    this.lost = 0;
    this.how = "";
    this.note = "";
    this.instance = null; // {from, to} when the new connection is on another instance

    const li = document.createElement("li");
    li.className = "episode";
    const head = document.createElement("p");
    head.className = "ep-head";
    const steps = document.createElement("ol");
    steps.className = "steps";
    this.steps = {};
    const names = kind === "stall" ? ["silent", "stalled", "reconnect", "resumed"] : ["drop", "reconnect", "resumed"];
    for (const name of names) {
      const s = document.createElement("li");
      s.className = "step";
      s.dataset.step = name;
      const label = document.createElement("span");
      label.className = "step-name";
      label.textContent = name;
      const when = document.createElement("b");
      when.className = "step-when";
      s.append(label, " ", when);
      steps.append(s);
      this.steps[name] = s;
    }
    const how = document.createElement("p");
    how.className = "ep-how";
    const result = document.createElement("p");
    result.className = "ep-result";
    li.append(head, steps, how, result);
    this.li = li;
    this.el = { head, how, result };
    this.render();
  }

  // retry records another failed try while still away (the server is down).
  retry() {
    this.attempts++;
    this.render();
  }

  // explain says who redials and how; shown under the steps.
  explain(text) {
    this.how = text;
    this.render();
  }

  // reconnected records the new connection's open.
  reconnected(at, how) {
    if (this.reconnectAt === null) this.timeline.chart.mark(at, "reconnect");
    this.reconnectAt = at;
    if (how) this.how = how;
    this.phase = "reconnected";
    this.render();
  }

  // moved records that the new connection's hello named another instance
  // than the old one's (several instances behind a load balancer): the
  // ticks resume all the same, every instance makes the same ones.
  moved(from, to) {
    this.instance = { from, to };
    this.render();
  }

  // gap records ticks the server could no longer replay.
  gap(from, to) {
    this.note = `ticks ${from}–${to} were older than the replay window: the server said so (gap)`;
    this.render();
  }

  // tick records a tick on the new connection. It returns true once the
  // episode is over: the first live tick after the replay.
  tick(at, seq, replayed, lostNow) {
    if (this.phase !== "reconnected") return this.phase === "resumed";
    if (this.resumedAt === null) {
      this.resumedAt = at;
      this.firstSeq = seq;
      this.timeline.chart.mark(at, "resumed");
    }
    this.lost = lostNow - this.lostBefore;
    if (replayed) {
      this.replayed++;
      if (this.replayFrom === null) this.replayFrom = seq;
      this.replayTo = seq;
      this.render();
      return false;
    }
    this.phase = "resumed";
    this.render();
    return true;
  }

  // closed: the transport gave up for good (SSE after an error status).
  closed(note) {
    this.phase = "closed";
    this.note = note;
    this.render();
  }

  render() {
    const li = this.li;
    li.dataset.phase = this.phase;
    li.dataset.by = this.by;
    li.dataset.cause = this.cause;
    li.dataset.kind = this.kind;
    // A stall's cause is long ("watchdog: nothing for 1000 ms (2 ×
    // heartbeat 500 ms)"); its clock time is in the steps' title.
    this.el.head.textContent = (this.kind === "stall" ? this.cause : `${this.cause} · ${clock(this.at)}`) +
      (this.attempts > 0 ? ` · ${this.attempts} failed tr${this.attempts === 1 ? "y" : "ies"}` : "") +
      (this.instance ? ` · ${this.phase === "resumed" ? "resumed" : "back"} on instance ${this.instance.to}` : "");
    li.dataset.instance = this.instance?.to ?? "";
    this.el.head.title = this.el.head.textContent; // the whole line, where the stage cuts it
    const since = (t) => (t === null ? "…" : `+${Math.max(0, Math.round(t - this.at))} ms`);
    const first = this.steps.drop ?? this.steps.silent;
    first.querySelector(".step-when").textContent = "0 ms";
    first.dataset.done = "true";
    first.title = `${first.dataset.step} at ${clock(this.at)}`;
    if (this.steps.stalled) {
      this.steps.stalled.querySelector(".step-when").textContent = since(this.stalledAt);
      this.steps.stalled.dataset.done = "true";
      this.steps.stalled.title = `the watchdog gave up at ${clock(this.stalledAt)}`;
    }
    this.steps.reconnect.querySelector(".step-when").textContent = since(this.reconnectAt);
    this.steps.resumed.querySelector(".step-when").textContent = since(this.resumedAt);
    this.steps.reconnect.dataset.done = String(this.reconnectAt !== null);
    this.steps.resumed.dataset.done = String(this.phase === "resumed");
    this.el.how.textContent = this.how;
    this.el.how.title = this.how; // the whole text where the stage cuts it

    let result = this.note;
    if (this.phase === "resumed") {
      const gap = Math.round(this.resumedAt - this.at);
      li.dataset.gapMs = String(gap);
      li.dataset.replayed = String(this.replayed);
      li.dataset.lost = String(this.lost);
      const range = this.replayed > 0 ? ` (${this.replayFrom}–${this.replayTo})` : "";
      const word = this.replayed === 1 ? "tick" : "ticks";
      result = `gap ${gap} ms · ${this.replayed} ${word} replayed${range} · lost ${this.lost}`;
      if (this.kind === "stall") {
        const detect = Math.round(this.stalledAt - this.at);
        const back = Math.round(this.resumedAt - this.stalledAt);
        li.dataset.detectMs = String(detect);
        li.dataset.resumeMs = String(back);
        result = `detected after ${detect} ms · back ${back} ms later · ${this.replayed} ${word} replayed${range} · lost ${this.lost}`;
      }
      if (this.lastSeq !== null && this.firstSeq === this.lastSeq + 1) {
        result += ` · the server went on right after ${this.lastSeq}`;
      }
      if (this.note) result += ` · ${this.note}`;
    } else if (this.phase === "reconnected" && this.replayed > 0) {
      result = `replaying: ${this.replayed} so far`;
    }
    this.el.result.textContent = result;
    this.el.result.title = result;
    li.classList.toggle("bad", this.phase === "resumed" && this.lost > 0);
  }

  snapshot() {
    return {
      kind: this.kind,
      phase: this.phase,
      by: this.by,
      cause: this.cause,
      // A stall: from the last message to the watchdog firing, and from
      // there to the first tick on the new connection.
      detectMs: this.stalledAt === null ? null : Math.round(this.stalledAt - this.at),
      resumeMs: this.stalledAt === null || this.resumedAt === null ? null : Math.round(this.resumedAt - this.stalledAt),
      attempts: this.attempts,
      reconnectMs: this.reconnectAt === null ? null : Math.round(this.reconnectAt - this.at),
      gapMs: this.resumedAt === null ? null : Math.round(this.resumedAt - this.at),
      lastSeq: this.lastSeq,
      firstSeq: this.firstSeq,
      replayed: this.replayed,
      lost: this.lost,
      instance: this.instance?.to ?? null, // set when it came back on another instance
      instanceFrom: this.instance?.from ?? null,
    };
  }
}

// clock is the local wall time as HH:MM:SS.mmm.
export function clock(ms = Date.now()) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
