// sse-panel.js: the SSE side, with the browser's own EventSource on GET /sse
// and POST /chat as the way back up.
// Why it is this short: EventSource does the hard part by itself. After a
// network error it reconnects (readyState CONNECTING, after the server's
// retry: delay) and sends the Last-Event-ID header with the id of the last
// tick, so the server can replay what was missed. Only a non-200 answer or a
// wrong Content-Type makes it give up for good (readyState CLOSED).
// SSE is one-way, so chat goes up as a separate HTTP request that names the
// client id from the hello event; the echo comes back down the stream.

import { describe } from "./http.js";

const TYPES = ["hello", "tick", "echo", "gap"];

export function startSSE(panel) {
  let es = null;
  let manualURL = null; // set while a "Reconnect now" EventSource connects

  function connect(manual) {
    if (es) es.close();
    // A new EventSource object has no Last-Event-ID to send, so a manual
    // reconnect resumes with the ?lastEventId= query parameter instead.
    // The browser's own reconnects send the header.
    const last = panel.lastSeq();
    const url = manual && last !== null ? `/sse?lastEventId=${last}` : "/sse";
    manualURL = manual ? url : null;
    panel.setState(panel.everOpened ? "reconnecting" : "connecting");
    const source = new EventSource(url);
    es = source;

    source.addEventListener("open", () => {
      if (es !== source) return;
      const how = manualURL
        ? `This page made a new EventSource(${manualURL}): a new object has no Last-Event-ID, so the last seq goes in the URL.`
        : `The browser reconnected by itself (after the retry: time the server set) and sent ` +
          `Last-Event-ID: ${panel.lastId}. This page ran no code for it.`;
      manualURL = null;
      panel.opened(how);
    });
    source.addEventListener("error", (e) => {
      if (es !== source) return;
      if (e instanceof MessageEvent) {
        // An "event: error" sent by the server shares its name with the
        // connection error event; the contract has none, but show it.
        handleData("error", e);
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        panel.setState("closed");
        const why =
          "closed for good: the server answered with an error status or not " +
          "text/event-stream, and EventSource does not retry that. Press Reconnect now.";
        panel.log(why, "error");
        const ep = panel.connectionLost("stream refused");
        if (ep) ep.closed(why);
        return;
      }
      // CONNECTING: the browser is already retrying by itself.
      const resume = panel.lastId === null ? "" : ` and sends Last-Event-ID: ${panel.lastId}`;
      if (panel.state !== "reconnecting") {
        panel.log(`error: stream lost, the browser reconnects by itself${resume}`, "warn");
      }
      const ep = panel.connectionLost(panel.state === "open" ? "stream lost" : "reconnect failed");
      if (ep && ep.phase === "dropped") {
        ep.explain(`EventSource is retrying by itself (readyState CONNECTING)${resume}.`);
      }
      panel.setState("reconnecting");
    });
    for (const type of TYPES) {
      source.addEventListener(type, (e) => handleData(type, e));
    }
    // Events without an event: name arrive as "message"; the server sends
    // none, so show any that comes.
    source.addEventListener("message", (e) => {
      panel.received(e.data);
      panel.log(`unnamed event: ${String(e.data).slice(0, 100)}`, "warn");
    });
  }

  // handleData decodes one event's JSON data and hands it to the panel. Only
  // ticks carry an id: for them e.lastEventId is the tick's seq.
  function handleData(type, e) {
    panel.received(e.data);
    let data = null;
    try {
      data = JSON.parse(e.data);
    } catch {
      // handle() reports a message that is not a JSON object
    }
    panel.handle(type, data, type === "tick" ? e.lastEventId : undefined);
  }

  panel.onChat = async (text) => {
    const client = panel.client;
    if (!client) {
      panel.chatRefused("chat not sent: not connected (no client id from hello yet)", "warn");
      return false;
    }
    let res;
    try {
      res = await fetch("/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ client, text }),
      });
    } catch (err) {
      panel.chatRefused(`chat failed: ${err.message} (is the server running?)`);
      return false;
    }
    if (res.status === 202) {
      panel.log("chat: POST /chat → 202, the echo comes back on the stream", "info");
      return true;
    }
    panel.chatRefused(`chat refused: ${await describe(res)}`);
    return false;
  };

  panel.onReconnect = () => {
    panel.log("reconnect now (new EventSource)", "info");
    if (panel.state === "open") return;
    const ep = panel.connectionLost("Reconnect now", { by: "page" });
    if (ep) ep.by = "page";
    connect(true);
  };

  connect(false);
}
