// sse-panel.js: the SSE side, with the browser's own EventSource on GET /sse
// and POST /chat as the way back up.
// Why it is this short: EventSource does the hard part by itself. After a
// network error it reconnects (readyState CONNECTING, after the server's
// retry: delay) and sends the Last-Event-ID header with the id of the last
// tick, so the server can replay what was missed. Only a non-200 answer or a
// wrong Content-Type makes it give up for good (readyState CLOSED).
// What it does not do: notice a stream that stays open but carries nothing
// (a dead path). So this panel runs a watchdog (watchdog.js): silent for too
// long, it closes the EventSource and opens a new one with ?lastEventId=.
// SSE is one-way, so chat goes up as a separate HTTP request that names the
// client id from the hello event; the echo comes back down the stream.
// Behind a load balancer that request may land on another instance than
// the stream's: hop.js shows where it went.

import { sseAnswer } from "./hop.js";
import { Watchdog } from "./watchdog.js";

const TYPES = ["hello", "tick", "echo", "gap"];

export function startSSE(panel) {
  let es = null;
  let manualURL = null; // set while a "Reconnect now" EventSource connects
  let byWatchdog = false; // set while the watchdog's new EventSource connects
  const dog = new Watchdog(abandon);

  // rearm (re)sets the watchdog: the limit can change once the tick
  // interval is known. Comments are invisible here, hence false.
  function rearm() {
    const limit = panel.watchdogLimit(false);
    dog.arm(limit?.ms);
    if (limit?.ms !== panel.watchdogMs) panel.showWatchdog(limit);
  }

  // abandon is the watchdog firing: the stream is silent, yet EventSource
  // still says OPEN and would wait for ever. Close it and open a new one at
  // once, resuming by ?lastEventId= (a new object has no Last-Event-ID to
  // send). At once: the old stream is dead, there is nothing to wait for;
  // if the new request fails, EventSource's own retry takes over from there.
  function abandon({ lastAt, at }) {
    const limit = panel.watchdogLimit(false);
    const ep = panel.stalled({ lastAt, at, limit });
    connect(true, true);
    if (ep) {
      ep.explain(
        `EventSource still said OPEN: it has no timeout, and the server's keep-alive comments never reach a ` +
          `script. This page closed it and opened new EventSource(${manualURL}).`,
      );
    }
  }

  function connect(manual, watchdog = false) {
    dog.stop();
    if (es) es.close();
    // A new EventSource object has no Last-Event-ID to send, so a manual
    // reconnect resumes with the ?lastEventId= query parameter instead.
    // The browser's own reconnects send the header.
    const last = panel.lastSeq();
    const url = manual && last !== null ? `/sse?lastEventId=${last}` : "/sse";
    manualURL = manual ? url : null;
    byWatchdog = watchdog;
    panel.setState(panel.everOpened ? "reconnecting" : "connecting");
    const source = new EventSource(url);
    es = source;

    source.addEventListener("open", () => {
      if (es !== source) return;
      dog.feed();
      const how = byWatchdog
        ? `This page's watchdog gave up on the silent stream and made a new EventSource(${manualURL}): ` +
          `a new object has no Last-Event-ID, so the last seq goes in the URL.`
        : manualURL
        ? `This page made a new EventSource(${manualURL}): a new object has no Last-Event-ID, so the last seq goes in the URL.`
        : `The browser reconnected by itself (after the retry: time the server set) and sent ` +
          `Last-Event-ID: ${panel.lastId}. This page ran no code for it.`;
      manualURL = null;
      byWatchdog = false;
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
      dog.stop(); // gone, not silent: EventSource says so itself
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
      source.addEventListener(type, (e) => {
        if (es !== source) return;
        dog.feed();
        handleData(type, e);
        if (type === "hello" || type === "tick") rearm();
      });
    }
    // Events without an event: name arrive as "message"; the server sends
    // none, so show any that comes.
    source.addEventListener("message", (e) => {
      if (es !== source) return;
      dog.feed();
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
    // The answer says which instance took the POST and which delivered it
    // (through the broker, or on the spot): the panel shows the hop.
    const answer = await sseAnswer(res, panel.instance);
    panel.chatAnswered(answer);
    return answer.ok;
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
