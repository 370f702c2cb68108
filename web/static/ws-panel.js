// ws-panel.js: the WebSocket side, with the browser's WebSocket on GET /ws.
// Why it is longer than sse-panel.js: a WebSocket carries both directions on
// one connection (chat goes up the same socket, no back channel), but the
// browser never reconnects it. So this module does what EventSource does by
// itself: on close it waits (exponential backoff with jitter, backoff.js),
// redials, and resumes with ?lastEventId=<last seq seen> so the server can
// replay the missed ticks and none is lost.
// A dead path closes nothing, and a script never sees ping/pong frames, so
// the server also sends {"type":"keepalive"} after heartbeat_ms of silence
// and this panel runs a watchdog (watchdog.js) on every message, keep-alives
// included: silent for twice the heartbeat, it closes the socket and redials.

import { Backoff } from "./backoff.js";
import { Watchdog } from "./watchdog.js";
import { wsHop } from "./hop.js";

// What the close codes the server uses mean (RFC 6455, section 7.4.1).
const CLOSE_CODES = {
  1000: "normal closure",
  1001: "going away: server shutting down, or dropped",
  1003: "unsupported data",
  1005: "no status code",
  1006: "abnormal, no close frame: network cut, server killed, or handshake refused",
  1007: "invalid message data",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
  1012: "service restart",
  1013: "try again later",
};

export function dialURL(lastSeq) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = lastSeq !== null ? `?lastEventId=${lastSeq}` : "";
  return `${scheme}//${location.host}/ws${query}`;
}

export function startWS(panel) {
  const backoff = new Backoff({ base: 250, max: 10000 });
  let ws = null;
  let timer = null;

  let redial = null; // {url, delay, attempt, watchdog} of the dial under way after a close
  const dog = new Watchdog(abandon);

  // abandon is the watchdog firing: the socket still says OPEN, but nothing
  // came for twice the heartbeat. The page closes it (4000: an application
  // code; on a dead path the server never hears it, so the close event is
  // not waited for) and redials after the usual backoff wait, as after any
  // close. Why wait: the first wait is short (125-250 ms, against a
  // detection time of seconds), and when a server or a proxy stalls for
  // everyone at once, every page's watchdog fires at about the same moment;
  // the jitter spreads their redials as it does after a restart.
  function abandon({ lastAt, at }) {
    const limit = panel.watchdogLimit(true);
    const ep = panel.stalled({ lastAt, at, limit });
    const old = ws;
    ws = null; // its close event, whenever it comes, is now ignored
    if (old) old.close(4000, "watchdog: nothing received");
    const attempt = backoff.attempt + 1;
    const delay = backoff.next();
    redial = { url: "", delay, attempt, watchdog: true };
    panel.setState("reconnecting");
    panel.log(`the page closed the silent socket and redials in ${delay} ms (backoff with jitter)`, "info");
    if (ep) {
      ep.explain(
        `The socket still said OPEN: a script sees no ping/pong, and a dead path brings no close. This page's ` +
          `watchdog closed it and waits ${delay} ms (backoff, try ${attempt}), then redials with ?lastEventId=${panel.lastSeq()}.`,
      );
    }
    timer = setTimeout(connect, delay);
  }

  function connect() {
    dog.stop();
    clearTimeout(timer);
    timer = null;
    panel.setState(panel.everOpened ? "reconnecting" : "connecting");
    const url = dialURL(panel.lastSeq());
    if (redial) redial.url = new URL(url).pathname + new URL(url).search;
    const sock = new WebSocket(url);
    ws = sock;

    sock.addEventListener("open", () => {
      if (ws !== sock) return;
      dog.feed();
      panel.opened(
        redial === null
          ? ""
          : (redial.watchdog ? "This page's watchdog closed the silent socket, then its code" : "This page's code") +
              ` redialled ${redial.url} ` +
              (redial.delay > 0
                ? `after a ${redial.delay} ms backoff wait (try ${redial.attempt}). `
                : "at once (Reconnect now). ") +
              "The browser never redials a WebSocket.",
      );
      redial = null;
    });
    sock.addEventListener("message", (e) => {
      if (ws !== sock) return;
      dog.feed();
      if (typeof e.data !== "string") {
        panel.log("binary message ignored: the protocol is JSON text", "warn");
        return;
      }
      let msg = null;
      try {
        msg = JSON.parse(e.data);
      } catch {
        // handle() reports a message that is not a JSON object
      }
      const type = msg && typeof msg.type === "string" ? msg.type : "?";
      // Reset the backoff only once the stream really works (a tick came),
      // not on open alone: a server that accepts and closes at once must
      // not be redialled every 250 ms forever.
      if (type === "tick") backoff.reset();
      if (type === "keepalive") {
        panel.keepalive(); // fed the watchdog above; that is all it is for
        return;
      }
      panel.received(e.data);
      panel.handle(type, msg);
      if (type === "hello") {
        const limit = panel.watchdogLimit(true);
        dog.arm(limit?.ms);
        panel.showWatchdog(limit);
      }
    });
    // "error" carries no detail in browsers; "close" always follows it and
    // has the code and reason, so only close is shown.
    sock.addEventListener("close", (e) => {
      if (ws !== sock) return;
      ws = null;
      dog.stop();
      const meaning = CLOSE_CODES[e.code] ?? "";
      let line = `closed ${e.code}`;
      if (meaning) line += ` (${meaning})`;
      if (e.reason) line += `: ${e.reason}`;
      panel.log(line, e.code === 1000 || e.code === 1001 ? "warn" : "error");
      const attempt = backoff.attempt + 1;
      const delay = backoff.next();
      const ep = panel.connectionLost(panel.state === "open" ? `closed ${e.code}` : `redial failed (${e.code})`);
      if (ep) {
        ep.explain(
          `Closed ${e.code}${e.reason ? ` (${e.reason})` : ""}. This page's code waits ${delay} ms ` +
            `(backoff with jitter, try ${attempt}), then redials with ?lastEventId=${panel.lastSeq()}.`,
        );
      }
      redial = { url: "", delay, attempt };
      panel.setState("reconnecting");
      panel.log(`the page redials in ${delay} ms (backoff with jitter)`, "info");
      timer = setTimeout(connect, delay);
    });
  }

  // An echo came back: up and down the one socket, on the instance its
  // hello named. Nothing else was involved, whatever runs beside it.
  panel.echoHop = () => wsHop(panel.instance);

  panel.onChat = async (text) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      panel.chatRefused("chat not sent: the socket is not open", "warn");
      return false;
    }
    ws.send(JSON.stringify({ type: "chat", text }));
    return true;
  };

  panel.onReconnect = () => {
    panel.log("reconnect now (skipping the backoff wait)", "info");
    backoff.reset();
    redial = { url: "", delay: 0, attempt: 1 };
    dog.stop();
    if (ws) {
      const old = ws;
      ws = null; // its close event is now ignored
      old.close(1000, "reconnect now");
    }
    connect();
  };

  connect();
}
