// app.js: the page's entry point. It builds the two panels from the one
// <template> in index.html, connects the left one over SSE and the right one
// over WebSocket, and wires the Drop and Go silent buttons, the /stats
// table and the connection-limit experiment, the view tabs and the
// presenter's keys.
// Why a separate file: each other module has one job (panel.js the display,
// sse-panel.js and ws-panel.js a transport each, http.js the requests,
// ticks.js the counting, backoff.js the redial delay, watchdog.js the
// silence detector, chart.js the latency chart, timeline.js the reconnect
// story, diagram.js the direction picture, stats.js the cost table,
// limit.js the connection limit, measure.js the probes, views.js the tabs,
// keys.js the shortcuts); this one only puts them together.

import { Panel } from "./panel.js";
import { startSSE } from "./sse-panel.js";
import { startWS } from "./ws-panel.js";
import { drop, silence } from "./http.js";
import { StatsTable } from "./stats.js";
import { LimitExperiment } from "./limit.js";
import { Measure } from "./measure.js";
import { Views } from "./views.js";
import { listen } from "./keys.js";

const template = document.getElementById("panel-template");
const panelsEl = document.getElementById("panels");

const sse = new Panel(template, {
  name: "sse",
  by: "browser",
  title: "SSE · EventSource",
  subtitle: "GET /sse · one way, server→browser · chat goes up by POST /chat",
  note:
    "Watch: after Drop the badge turns reconnecting, then open; the timeline shows the gap " +
    "and the replayed ticks; lost stays 0. Why: EventSource reconnects by itself after the " +
    "server's retry: wait and sends Last-Event-ID (the last tick's id); the server replays " +
    "the rest. This page runs no code for it.",
  directionNote:
    "Watch: the chat goes up the dashed line (its own POST /chat), its echo comes down the " +
    "stream. Why not up the stream: an EventSource is one long response to a GET; the browser " +
    "has nothing more to send on it and the API has no send(). So the POST names this " +
    "stream's client id (from hello) and the server puts the echo on the stream.",
  chatLabel: "Chat: up by POST /chat, echo down the stream",
  who: "the browser reconnects it",
  keys: { drop: "S", silent: "Shift+S", chat: "C" },
});

const ws = new Panel(template, {
  name: "ws",
  by: "page",
  title: "WebSocket",
  subtitle: "GET /ws · one socket, both ways · chat goes up the same socket",
  note:
    "Watch: the close code, a short random wait, then open; lost stays 0. Why: the browser " +
    "never redials a WebSocket. This page's code does: it waits (exponential backoff with " +
    "jitter) and dials /ws?lastEventId=<last seq>; the server replays the rest.",
  directionNote:
    "Watch: the chat goes up and its echo comes down on the one line. Why: after the HTTP " +
    "upgrade (101 Switching Protocols) the connection carries frames both ways; no extra request.",
  chatLabel: "Chat: up the socket, echo down the same socket",
  who: "this page's code reconnects it",
  keys: { drop: "W", silent: "Shift+W", chat: "V" },
});

for (const panel of [sse, ws]) {
  panelsEl.append(panel.root);
  panel.onDrop = async () => {
    const { text, kind, dropped } = await drop(panel.name);
    if (dropped === 0) panel.dropClickedAt = 0; // nothing closed: no episode to blame on it
    panel.log(text, kind);
  };
  panel.onSilent = async () => {
    const { text, kind, silenced } = await silence(panel.name);
    if (silenced === 0) panel.silentClickedAt = 0;
    panel.log(text, kind);
    if (silenced > 0 && panel.heartbeatMs === null) {
      panel.log("this server's hello named no heartbeat_ms: no watchdog, the panel waits for the server to close", "warn");
    }
  };
}

startSSE(sse);
startWS(ws);

const views = new Views(document.querySelector('[role="tablist"]'), document.getElementById("main"));
// A key that opens a chat box switches to the stage first if the box is
// not shown in the current view.
listen(document, {
  reveal: (el) => {
    if (el.getClientRects().length === 0) views.show("stage"); // not rendered in this view
  },
});

const stats = new StatsTable(document.getElementById("cost"), document.getElementById("stats-status"));
stats.start();
// The SSE watchdog needs the tick interval (watchdog.js); until its panel
// has seen two ticks, /stats says it.
sse.intervalHint = () => stats.last?.interval_ms ?? null;

const measure = new Measure({
  button: document.getElementById("measure-run"),
  table: document.getElementById("measure"),
  status: document.getElementById("measure-status"),
});

const limit = new LimitExperiment({
  button: document.getElementById("limit-run"),
  result: document.getElementById("limit-result"),
  chips: document.getElementById("limit-chips"),
  // Each of these holds one of the browser's 6 HTTP/1.1 connections.
  ownHeld: () => [
    ...(sse.state === "open" ? ["its /sse"] : []),
    ...(measure.running ? ["the running Measure request"] : []),
  ],
  before: () => stats.pause(),
  after: () => stats.resume(),
});

// For browser tests and the curious: window.ssevsws.snapshot() in the console.
window.ssevsws = Object.freeze({
  snapshot: () => ({
    sse: sse.snapshot(),
    ws: ws.snapshot(),
    view: views.current,
    limit: limit.last,
    stats: stats.last,
    measure: measure.last,
  }),
});
