// app.js: the page's entry point. It builds the two panels from the one
// <template> in index.html, connects the left one over SSE and the right one
// over WebSocket, and wires the Drop buttons.
// Why a separate file: each other module has one job (panel.js the display,
// sse-panel.js and ws-panel.js a transport each, http.js the requests,
// ticks.js the counting, backoff.js the redial delay); this one only puts
// them together.

import { Panel } from "./panel.js";
import { startSSE } from "./sse-panel.js";
import { startWS } from "./ws-panel.js";
import { drop } from "./http.js";

const template = document.getElementById("panel-template");
const main = document.getElementById("panels");

const sse = new Panel(template, {
  name: "sse",
  title: "SSE · EventSource",
  subtitle: "GET /sse · one way, server→browser · chat up by POST /chat",
  note:
    "Watch: reconnecting, then open; reconnects +1, lost stays 0. " +
    "Why: EventSource redials by itself and sends Last-Event-ID; the server replays what was missed.",
  chatLabel: "Chat (POST /chat, the echo comes back on the stream)",
});

const ws = new Panel(template, {
  name: "ws",
  title: "WebSocket",
  subtitle: "GET /ws · one socket, both ways · chat up the same socket",
  note:
    "Watch: the close code in the log, a short random wait, open; lost stays 0. " +
    "Why: the browser never redials a WebSocket; this page does, with ?lastEventId=<last seq>.",
  chatLabel: "Chat (sent on the socket, echoed on it)",
});

for (const panel of [sse, ws]) {
  main.append(panel.root);
  panel.onDrop = async () => {
    const { text, kind } = await drop(panel.name);
    panel.log(text, kind);
  };
}

startSSE(sse);
startWS(ws);

// For browser tests and the curious: window.ssevsws.snapshot() in the console.
window.ssevsws = Object.freeze({
  snapshot: () => ({ sse: sse.snapshot(), ws: ws.snapshot() }),
});
