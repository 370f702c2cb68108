// http.js: the small requests the page makes besides its two streams:
// POST /drop (close, or go silent), GET /stats, and turning an error answer into one readable line.
// Why: the server explains refusals (429 with Retry-After, 403 without the
// token, ...); the log must show the status *and* the server's own words.

const reasons = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

// describe returns "429 Too Many Requests: <server text> (retry after 1 s)".
// The server text is the body: plain text as http.Error writes it, or JSON
// with an "error" or "message" field. It is shortened, and it is only ever
// shown with textContent.
export async function describe(res) {
  return describeBody(res, await readBody(res));
}

// readBody is the answer's body as text ("" if it cannot be read), for a
// caller that wants both its JSON (hop.js) and describeBody's line.
export async function readBody(res) {
  try {
    return (await res.text()).trim();
  } catch {
    return ""; // body unreadable: the status alone must do
  }
}

// describeBody is describe with the body already read.
export function describeBody(res, body) {
  let text = body;
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === "string") text = j.error;
    else if (j && typeof j.message === "string") text = j.message;
  } catch {
    // not JSON: keep the text as it is
  }
  if (text.length > 200) text = text.slice(0, 200) + "…";
  let line = statusLine(res);
  if (text) line += `: ${text}`;
  const retry = res.headers.get("Retry-After");
  if (retry) line += ` (retry after ${retry} s)`;
  return line;
}

// statusLine is "503 Service Unavailable".
export function statusLine(res) {
  return `${res.status} ${res.statusText || reasons[res.status] || ""}`.trim();
}

// token is the ?token=... of the page's own URL, or null. /drop is open
// from loopback; from anywhere else the server wants this token, which it
// prints at start.
export function token() {
  return new URLSearchParams(location.search).get("token");
}

// drop asks the server to close every connection of one transport
// ("sse" or "ws") and returns a log line: {text, kind, dropped}.
export async function drop(transport) {
  const r = await postDrop(transport, "close");
  if (!r.ok) return r;
  const n = Number.isInteger(r.json?.dropped) ? r.json.dropped : "?";
  return { text: `drop: the server closed ${n} connection(s)`, kind: "warn", dropped: n };
}

// silence asks the server to go silent on one transport's connections
// (POST /drop?mode=silent): it writes nothing more to them, no tick, no
// keep-alive, without closing them, and closes them only after
// close_after_ms. Returns a log line: {text, kind, silenced, closeAfterMs}.
export async function silence(transport) {
  const r = await postDrop(transport, "silent");
  if (!r.ok) return r;
  const n = Number.isInteger(r.json?.silenced) ? r.json.silenced : "?";
  const after = Number.isInteger(r.json?.close_after_ms) ? r.json.close_after_ms : null;
  const text =
    `go silent: the server stopped writing to ${n} connection(s) without closing them` +
    (after === null ? "" : `; it closes them after ${after} ms`);
  return { text, kind: "warn", silenced: n, closeAfterMs: after };
}

// postDrop is POST /drop?transport=...&mode=...: {ok: true, json} or a
// log line saying why not ({ok: false, text, kind}).
async function postDrop(transport, mode) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const what = mode === "silent" ? "go silent" : "drop";
  let res;
  try {
    res = await fetch(`/drop?transport=${encodeURIComponent(transport)}&mode=${mode}`, {
      method: "POST",
      headers,
    });
  } catch (err) {
    return { ok: false, text: `${what} failed: ${err.message} (is the server running?)`, kind: "error" };
  }
  if (res.ok) {
    let json = null;
    try {
      json = await res.json();
    } catch {
      // 200 without the JSON: still a success
    }
    return { ok: true, json };
  }
  if (res.status === 403 || res.status === 401) {
    const why = await describe(res);
    const text = t
      ? `${what} refused: the token in this page's URL is not the one the server printed at start (${why})`
      : `${what} needs the token printed by the server at start: open the page with ?token=... (${why})`;
    return { ok: false, text, kind: "error" };
  }
  return { ok: false, text: `${what} refused: ${await describe(res)}`, kind: "error" };
}

// getStats reads GET /stats: {ok: true, stats} or {ok: false, text}.
export async function getStats() {
  let res;
  try {
    res = await fetch("/stats", { cache: "no-store" });
  } catch (err) {
    return { ok: false, text: `cannot read /stats: ${err.message} (is the server running?)` };
  }
  if (!res.ok) return { ok: false, text: `/stats: ${await describe(res)}` };
  try {
    return { ok: true, stats: await res.json() };
  } catch {
    return { ok: false, text: "/stats: the answer is not JSON" };
  }
}
