// panel.js: the DOM of one panel (state, latest tick, counters, latency
// chart, reconnect timeline, direction diagram, chat form, log) and what the
// two transports have in common, the instance the stream is on included.
// Why: SSE and WebSocket carry the same messages (hello, tick, echo, gap,
// error) with the same JSON fields, so the transport modules only turn their
// events into handle(type, data) calls and all the display and counting is
// written once, here. Every server-provided string goes through textContent
// and is never parsed as markup: a chat text <img src=x onerror=...> shows as text.

import { TickCounter, describeDelay } from "./ticks.js";
import { LatencyChart, summaryLine } from "./chart.js";
import { Timeline, clock } from "./timeline.js";
import { Diagram } from "./diagram.js";
import { limitFor } from "./watchdog.js";
import { instanceOf, showInstance, showHop } from "./hop.js";

const LOG_LINES = 20;
const STATES = ["connecting", "open", "reconnecting", "closed"];
// A connection lost this soon after a Drop click is put down to the click.
const DROP_BLAME_MS = 5000;
const utf8 = new TextEncoder();

export class Panel {
  // template: the <template id="panel-template">; opts: name ("sse"|"ws"),
  // title, subtitle, note, directionNote, chatLabel, by ("browser"|"page":
  // who reconnects) and who (the same in words), keys ({drop, silent,
  // chat}: the presenter's keys, see keys.js). The transport and app.js set
  // the onChat(text) -> Promise<boolean>, onDrop(), onSilent() and
  // onReconnect() hooks.
  constructor(template, { name, title, subtitle, note, directionNote, chatLabel, by, who, keys }) {
    this.name = name;
    this.by = by;
    this.root = template.content.firstElementChild.cloneNode(true);
    this.root.dataset.panel = name;
    this.root.classList.add(`panel-${name}`);
    this.fields = {};
    for (const el of this.root.querySelectorAll("[data-field]")) {
      el.id = `${name}-${el.dataset.field}`;
      this.fields[el.dataset.field] = el;
    }
    const slot = (s) => this.root.querySelector(`[data-slot="${s}"]`);
    slot("title").textContent = title;
    slot("title").id = `${name}-title`;
    this.root.setAttribute("aria-labelledby", `${name}-title`);
    slot("subtitle").textContent = subtitle;
    slot("note").textContent = note;
    slot("direction-note").textContent = directionNote;
    slot("chat-label").textContent = chatLabel;
    slot("chat-label").parentElement.htmlFor = this.fields["chat-input"].id;
    slot("who").textContent = who;
    this.fields.timeline.dataset.empty = `No reconnect yet. Press Drop: ${who}. Go silent: this page's watchdog notices.`;
    // The key is shown (<kbd>) and declared (aria-keyshortcuts) together.
    slot("drop-key").textContent = keys.drop;
    this.fields.drop.setAttribute("aria-keyshortcuts", keys.drop);
    slot("silent-key").textContent = keys.silent;
    this.fields.silent.setAttribute("aria-keyshortcuts", keys.silent);
    slot("chat-key").textContent = keys.chat;
    this.fields["chat-input"].setAttribute("aria-keyshortcuts", keys.chat);

    this.counter = new TickCounter();
    this.chart = new LatencyChart(this.fields.chart);
    this.timeline = new Timeline(this.fields.timeline, this.chart);
    this.diagram = new Diagram(this.fields.diagram, `diagram-${name}`);
    this.episode = null; // the reconnect episode under way, if any
    this.dropClickedAt = 0;
    this.silentClickedAt = 0;
    this.events = 0;
    this.keepalives = 0; // WebSocket keep-alive messages: not events, see handle
    this.heartbeatMs = null; // from the current connection's hello
    this.intervalMs = null; // the tick interval, seen from two ticks
    this.prevTick = null; // {seq, t} of the last tick with a time
    this.intervalHint = () => null; // app.js: the interval /stats gives
    this.watchdogMs = null; // the limit the transport's watchdog runs with
    this.echoes = 0;
    this.reconnects = 0;
    this.bytesLast = 0;
    this.bytesTotal = 0;
    this.everOpened = false;
    this.openedAt = 0;
    this.firstTickMs = null; // ms from the first open to the first tick
    this.client = null;
    this.instance = null; // the instance the last hello named (hop.js)
    this.hop = null; // where the last chat went (hop.js)
    this.echoHop = () => null; // the transport's hop for an echo, if it knows it
    this.lastId = null;
    this.state = "connecting";
    this.onChat = async () => false;
    this.onDrop = async () => {};
    this.onSilent = async () => {};
    this.onReconnect = () => {};
    this.wire();
    this.setState("connecting");
  }

  wire() {
    const f = this.fields;
    f["chat-form"].addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = f["chat-input"].value;
      if (text.trim() === "") return;
      f["chat-send"].disabled = true;
      // Said before sending: the echo (or a refusal) may come back before
      // onChat returns, and must not be overwritten.
      this.chatStatus(`↑ sent: ${text}`, "info");
      this.showHop(null);
      try {
        if (await this.onChat(text)) {
          f["chat-input"].value = "";
          this.diagram.pulse("chat");
        }
      } finally {
        f["chat-send"].disabled = false;
      }
    });
    f.drop.addEventListener("click", async () => {
      f.drop.disabled = true;
      this.dropClickedAt = Date.now();
      try {
        await this.onDrop();
      } finally {
        f.drop.disabled = false;
      }
    });
    f.silent.addEventListener("click", async () => {
      f.silent.disabled = true;
      this.silentClickedAt = Date.now();
      try {
        await this.onSilent();
      } finally {
        f.silent.disabled = false;
      }
    });
    f.reconnect.addEventListener("click", () => this.onReconnect());
  }

  // setState shows one of connecting | open | reconnecting | closed, by
  // colour and by word. Leaving "open" forgets the client id: the server
  // gives a new one on each connection.
  setState(state) {
    if (!STATES.includes(state)) throw new Error(`unknown state ${state}`);
    this.state = state;
    const el = this.fields.state;
    el.textContent = state;
    el.dataset.state = state;
    this.root.dataset.state = state;
    this.fields.reconnect.disabled = state === "open";
    this.diagram.server(this.instance, state !== "open"); // stale until the next hello
    if (state !== "open") this.setClient(null);
  }

  setClient(id) {
    this.client = id;
    this.fields.client.textContent = id ?? "-";
  }

  // lastSeq is the seq to resume after (null before the first tick).
  lastSeq() {
    return this.counter.last;
  }

  // connectionLost is called by the transport when its connection goes
  // away; cause says how it was noticed. It starts a timeline episode, or
  // counts another failed try of the one under way. It returns the episode
  // (null before the first tick: there is nothing to resume then).
  connectionLost(cause, { by = this.by } = {}) {
    const now = Date.now();
    if (this.episode) {
      if (this.episode.phase === "reconnected") {
        // Lost again before a single tick came: same outage, one more try.
        this.episode.phase = "dropped";
      }
      this.episode.retry();
      return this.episode;
    }
    if (this.counter.last === null) return null;
    const blame = now - this.dropClickedAt < DROP_BLAME_MS;
    this.episode = this.timeline.start({
      at: blame ? this.dropClickedAt : now,
      cause: blame ? "Drop button" : cause,
      lastSeq: this.counter.last,
      lostBefore: this.counter.lost,
      by,
    });
    this.dropClickedAt = 0;
    return this.episode;
  }

  // watchdogLimit is how long the current connection may stay silent:
  // {ms, why}, or null (no watchdog yet). See limitFor in watchdog.js.
  watchdogLimit(seesKeepAlives) {
    return limitFor(this.heartbeatMs, this.intervalMs ?? this.intervalHint(), seesKeepAlives);
  }

  // showWatchdog shows the limit the transport armed its watchdog with.
  showWatchdog(limit) {
    this.watchdogMs = limit ? limit.ms : null;
    this.fields.watchdog.textContent = limit ? `${limit.ms} ms (${limit.why})` : "off";
  }

  // stalled is called by the transport when its watchdog gave up on a
  // connection that looked open: nothing came from lastAt to at. It starts
  // a "stall" episode (or counts one more try of the one under way) and
  // returns it, as connectionLost does.
  stalled({ lastAt, at, limit }) {
    const cause = `watchdog: nothing for ${limit.ms} ms (${limit.why})`;
    this.log(`${cause}: the connection still looked open; this page gives up on it`, "warn");
    if (this.episode) {
      this.episode.retry();
      return this.episode;
    }
    if (this.counter.last === null) return null;
    this.episode = this.timeline.start({
      at: lastAt,
      stalledAt: at,
      kind: "stall",
      cause,
      lastSeq: this.counter.last,
      lostBefore: this.counter.lost,
      by: "page",
    });
    if (at - this.silentClickedAt < 4 * limit.ms + DROP_BLAME_MS) {
      this.episode.note = `the server went silent on request (Go silent at ${clock(this.silentClickedAt)})`;
    }
    this.silentClickedAt = 0;
    return this.episode;
  }

  // keepalive counts a WebSocket keep-alive message. It is not an event in
  // the counters (nothing happened; it only says the path is alive), it
  // writes no log line, and its bytes are not counted: the transport fed
  // the watchdog with it, which is all it is for.
  keepalive() {
    this.keepalives++;
    this.fields.keepalives.textContent = String(this.keepalives);
  }

  // opened is called when a connection is up: the first one, or a
  // reconnect. how says who reconnected and how (for the timeline).
  opened(how = "") {
    const now = Date.now();
    const resumeFrom = this.counter.last;
    this.counter.opened(now);
    if (this.everOpened) this.reconnects++;
    else this.openedAt = now;
    this.everOpened = true;
    this.setState("open");
    if (this.episode) this.episode.reconnected(now, how);
    this.log(resumeFrom === null ? "open" : `open, resuming after tick ${resumeFrom}`, "info");
    this.render();
  }

  // received counts the payload bytes of one event or message: its data as
  // UTF-8. The browser shows the page nothing of the framing around it.
  received(raw) {
    this.bytesLast = typeof raw === "string" ? utf8.encode(raw).length : 0;
    this.bytesTotal += this.bytesLast;
  }

  // handle takes one message from the server, whatever the transport:
  // type is hello | tick | echo | gap | error, data the decoded JSON object.
  // lastEventId is the SSE event's lastEventId (undefined for WebSocket).
  handle(type, data, lastEventId) {
    this.events++;
    if (data === null || typeof data !== "object") {
      this.log(`bad ${type} message: not a JSON object`, "error");
      this.render();
      return;
    }
    switch (type) {
      case "hello": {
        this.counter.hello();
        this.setClient(typeof data.client === "string" ? data.client : null);
        const hb = data.heartbeat_ms;
        this.heartbeatMs = Number.isSafeInteger(hb) && hb > 0 ? hb : null;
        const beat = this.heartbeatMs === null ? "no heartbeat_ms: no watchdog" : `heartbeat_ms=${hb}`;
        this.log(`hello client=${this.client ?? "?"} instance=${instanceOf(data) ?? "?"} ${beat}`, "info");
        this.setInstance(instanceOf(data));
        break;
      }
      case "tick":
        this.tick(data, lastEventId);
        break;
      case "echo":
        this.echoes++;
        this.diagram.pulse("echo");
        this.log(`echo ${String(data.text ?? "")}`, "echo");
        this.chatStatus(`↓ echo: ${String(data.text ?? "")}`, "echo");
        if (this.echoHop()) this.showHop(this.echoHop());
        break;
      case "gap": {
        const from = data.from;
        const to = data.to;
        if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
          this.log(`bad gap message: from=${from} to=${to}`, "error");
          break;
        }
        const n = this.counter.gap(from, to);
        if (this.episode) this.episode.gap(from, to);
        this.log(`gap ${from}..${to}: ${n} tick(s) too old to replay`, "gap");
        break;
      }
      case "error":
        this.chatRefused(`refused: ${String(data.text ?? "")}`);
        break;
      default:
        this.log(`unknown message type "${String(type)}"`, "warn");
    }
    this.render();
  }

  tick(data, lastEventId) {
    const { seq, time } = data;
    if (!Number.isSafeInteger(seq) || seq < 0) {
      this.log(`bad tick: seq=${String(seq)}`, "error");
      return;
    }
    const now = Date.now();
    this.learnInterval(seq, time);
    const r = this.counter.tick(seq, time, data.replay === true || data.replayed === true, now);
    if (this.firstTickMs === null) this.firstTickMs = now - this.openedAt;
    const f = this.fields;
    f.seq.textContent = String(seq);
    f.time.textContent = typeof time === "string" ? time : "-";
    f.delay.textContent = describeDelay(r);
    this.chart.add(now, r.delay, r.replayed ? "replayed" : r.atConnect ? "connect" : "live");
    this.diagram.pulse("tick");
    if (lastEventId !== undefined) {
      this.lastId = lastEventId;
      if (lastEventId !== String(seq)) {
        this.log(`tick ${seq} arrived with event id "${lastEventId}"`, "warn");
      }
    } else {
      this.lastId = String(this.counter.last);
    }
    if (this.episode && this.episode.tick(now, seq, r.replayed, this.counter.lost)) {
      const ep = this.episode;
      this.episode = null;
      this.log(`resumed: ${ep.replayed} tick(s) replayed, ${ep.lost} lost`, ep.lost > 0 ? "error" : "info");
    }
    switch (r.kind) {
      case "jump":
        this.log(`lost ${r.to - r.from + 1} tick(s): ${r.from}..${r.to}`, "error");
        break;
      case "duplicate":
        this.log(`duplicate tick ${seq} (after ${r.after})`, "warn");
        return;
    }
    this.logTick(seq, r.replayed);
  }

  // learnInterval works out the tick interval from two ticks: their times
  // differ by (seq difference) × interval, replayed or live alike.
  learnInterval(seq, time) {
    const t = Date.parse(time);
    if (!Number.isFinite(t)) return;
    const p = this.prevTick;
    if (p && seq > p.seq) {
      const iv = Math.round((t - p.t) / (seq - p.seq));
      if (iv > 0) this.intervalMs = iv;
    }
    this.prevTick = { seq, t };
  }

  // logTick logs a tick, folding a run of consecutive ticks into one line
  // ("tick 123 ×5 from 119") so the log keeps room for what matters.
  logTick(seq, replayed) {
    const kind = replayed ? "replay" : "tick";
    const word = replayed ? "replayed tick" : "tick";
    const top = this.fields.log.firstElementChild;
    if (top && top.dataset.kind === kind && Number(top.dataset.seq) === seq - 1) {
      const first = Number(top.dataset.first);
      top.dataset.seq = String(seq);
      top.querySelector(".t").textContent = clock();
      top.querySelector(".msg").textContent = `${word} ${seq}`;
      top.querySelector(".more").textContent = ` ×${seq - first + 1} from ${first}`;
      return;
    }
    const li = this.log(`${word} ${seq}`, kind);
    li.dataset.seq = String(seq);
    li.dataset.first = String(seq);
  }

  // chatStatus shows what became of the last chat under the chat box, where
  // the class looks (the log is in another view).
  chatStatus(text, kind) {
    const out = this.fields["chat-status"];
    out.textContent = text;
    out.dataset.kind = kind;
    out.title = text; // the whole line, if the box cuts it
  }

  // chatRefused reports a chat the server or the page did not take: in the
  // log and under the chat box.
  chatRefused(text, kind = "error") {
    this.log(text, kind);
    this.chatStatus(text, kind);
    this.showHop(null);
  }

  // chatAnswered shows what became of a chat, as hop.js put it: the log
  // line, the line under the chat box (if it changes) and the route.
  chatAnswered({ log, status, kind, hop }) {
    this.log(log, kind);
    if (status) this.chatStatus(status, kind);
    this.showHop(hop);
  }

  showHop(hop) {
    this.hop = hop;
    showHop(this.fields["chat-hop"], hop);
  }

  // setInstance shows the instance a hello named. A reconnect that landed
  // on another one (behind a load balancer) says so in its episode.
  setInstance(instance) {
    const was = this.instance;
    this.instance = instance;
    showInstance(this.fields.instance, instance);
    this.diagram.server(instance);
    if (this.episode && was && instance && was !== instance) this.episode.moved(was, instance);
  }

  // log adds a line at the top and keeps the last 20. Returns the <li>.
  log(text, kind = "info") {
    const li = document.createElement("li");
    li.dataset.kind = kind;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = clock();
    const msg = document.createElement("span");
    msg.className = "msg";
    msg.textContent = text;
    const more = document.createElement("span");
    more.className = "more";
    li.append(t, " ", msg, more);
    const list = this.fields.log;
    list.prepend(li);
    while (list.childElementCount > LOG_LINES) list.lastElementChild.remove();
    return li;
  }

  render() {
    const f = this.fields;
    const c = this.counter;
    f.events.textContent = String(this.events);
    f.ticks.textContent = String(c.ticks);
    f.reconnects.textContent = String(this.reconnects);
    f.lost.textContent = String(c.lost);
    f["gap-lost"].textContent = String(c.gapLost);
    f.duplicates.textContent = String(c.duplicates);
    f.replayed.textContent = String(c.replayed);
    f.echoes.textContent = String(this.echoes);
    f["bytes-last"].textContent = `${this.bytesLast} B`;
    f["bytes-total"].textContent = formatBytes(this.bytesTotal);
    f["last-id"].textContent = this.lastId ?? "-";
    f.lost.parentElement.classList.toggle("bad", c.lost > c.gapLost);
    f.lost.parentElement.classList.toggle("explained", c.lost > 0 && c.lost === c.gapLost);
    f.duplicates.parentElement.classList.toggle("bad", c.duplicates > 0);
    const line = summaryLine(this.chart.summary());
    if (line) {
      f["latency-summary"].textContent = line;
      f.chart.setAttribute("aria-label", `latency chart, last 60 s: ${line}`);
    }
  }

  // snapshot returns the panel's numbers for tests (window.ssevsws).
  snapshot() {
    const c = this.counter;
    return {
      state: this.state,
      client: this.client,
      instance: this.instance,
      hop: this.hop && { ...this.hop, text: this.fields["chat-hop"].textContent },
      seq: c.last,
      lastId: this.lastId,
      events: this.events,
      keepalives: this.keepalives,
      heartbeatMs: this.heartbeatMs,
      intervalMs: this.intervalMs,
      watchdogMs: this.watchdogMs,
      ticks: c.ticks,
      reconnects: this.reconnects,
      lost: c.lost,
      gapLost: c.gapLost,
      duplicates: c.duplicates,
      replayed: c.replayed,
      echoes: this.echoes,
      bytesLast: this.bytesLast,
      bytesTotal: this.bytesTotal,
      firstTickMs: this.firstTickMs,
      chart: this.chart.counts(),
      latency: this.chart.summary(),
      episodes: this.timeline.snapshot(),
    };
  }
}

// formatBytes writes 12345 as "12,345 B" (grouped, for reading from afar).
function formatBytes(n) {
  return `${n.toLocaleString("en-US")} B`;
}
