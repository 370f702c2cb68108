// hop.js: which instance a panel's stream is on, and where a chat went.
// Why it matters: behind a load balancer with several instances (README,
// Experiment 6), every request may land on another one. A tick does not
// care: every instance makes the same ticks from the clock, so a stream
// that reconnects to another instance resumes with nothing lost. A chat
// does. WebSocket's goes up the socket its echo comes down: it never leaves
// the instance. SSE's is a separate POST /chat, which lands on any
// instance; only a broker (NATS) carries it to the one holding the stream.
// The server says where each went (POST /chat's answer: taken_by,
// delivered_by or refused_by, via "local" or "broker"), and this module
// puts that in words: "POST → instance B → broker → instance A → your
// stream". Everything here is shown with textContent.

import { readBody, describeBody, statusLine } from "./http.js";

// name is an instance as the class reads it: "instance A".
export function name(instance) {
  return instance ? `instance ${instance}` : "the server";
}

// instanceOf is the instance a hello names, or null (a server without one).
export function instanceOf(hello) {
  return typeof hello?.instance === "string" && hello.instance !== "" ? hello.instance : null;
}

// showInstance writes the instance a panel's stream is on into el (the
// panel's facts; the stage shows it in the diagram, diagram.js).
export function showInstance(el, instance) {
  el.textContent = instance ? name(instance) : "-";
  el.dataset.instance = instance ?? "";
}

// wsHop is what a WebSocket chat did once its echo is back: up and down
// the one socket, on the one instance.
export function wsHop(instance) {
  return {
    via: "socket",
    takenBy: instance,
    deliveredBy: instance,
    steps: [`chat up and back on ${name(instance)}: it never left the socket`],
  };
}

// sseAnswer reads POST /chat's answer for a stream on streamOn (the
// instance its hello named) and says what became of the chat:
//   ok     true for 202
//   log    the log line
//   status the line under the chat box (null on 202: the box keeps "sent",
//          then the echo)
//   kind   the status's kind (error on refusal)
//   hop    {via, takenBy, deliveredBy, refusedBy, steps, note}: the route,
//          shown under the status as steps joined by arrows, then the note;
//          null if the answer names no instance, or the status needs both
//          lines
export async function sseAnswer(res, streamOn) {
  const body = await readBody(res);
  let j = {};
  try {
    const v = JSON.parse(body);
    if (v && typeof v === "object") j = v;
  } catch {
    // not JSON: the status line alone
  }
  const str = (v) => (typeof v === "string" && v !== "" ? v : null);
  const r = { via: str(j.via), takenBy: str(j.taken_by), deliveredBy: str(j.delivered_by), refusedBy: str(j.refused_by) };
  const taken = name(r.takenBy);

  if (res.status === 202) {
    let steps = null;
    if (r.takenBy && r.via === "broker") steps = ["POST", taken, "broker", name(r.deliveredBy), "your stream"];
    else if (r.takenBy && r.via === "local") steps = ["POST", taken, "your stream"];
    const hop = steps && { ...r, steps };
    const route = steps ? steps.join(" → ") : "the echo comes back on the stream";
    return { ok: true, log: `chat: POST /chat → 202: ${route}`, status: null, kind: "info", hop };
  }

  const line = `chat refused: ${describeBody(res, body)}`;
  const refused = (status, steps = null, note = "") => ({
    ok: false,
    log: line,
    status,
    kind: "error",
    hop: steps && { ...r, steps, note },
  });
  // Without a broker the instance that took the POST knows only its own
  // streams: the stream is on another one.
  if (res.status === 404 && r.via === "local" && r.takenBy && streamOn && r.takenBy !== streamOn) {
    return refused(`404: ${taken} does not hold your stream (no broker)`, ["POST", `${taken} ✕`], `your stream is on ${name(streamOn)}`);
  }
  // The broker is down: the server's words and when to try again, on both
  // lines.
  if (res.status === 503 && r.via === "broker" && !r.refusedBy) {
    const retry = res.headers.get("Retry-After");
    const why = str(j.error) ?? "the chat broker is down";
    return refused(`chat refused: ${statusLine(res)}${retry ? ` (retry after ${retry} s)` : ""}: ${why}`);
  }
  // Refused by the stream's instance (rate limit, queue full) after the hop.
  if (r.refusedBy && r.via === "broker") {
    return refused(line, ["POST", taken, "broker", `${name(r.refusedBy)} ✕`], "refused where your stream is");
  }
  return refused(line);
}

// showHop writes a hop's steps into el, joined by arrows, then its note;
// the broker step is marked so that it stands out. No hop: el is emptied.
export function showHop(el, hop) {
  el.replaceChildren();
  el.dataset.via = hop?.via ?? "";
  if (!hop) {
    el.title = "";
    return;
  }
  hop.steps.forEach((step, i) => {
    if (i > 0) el.append(" → ");
    const s = document.createElement("span");
    s.className = step === "broker" ? "hop-step hop-broker" : "hop-step";
    s.textContent = step;
    el.append(s);
  });
  if (hop.note) el.append(` · ${hop.note}`);
  el.title = el.textContent; // the whole route, where the box cuts it
}
