// http.js: the small requests the page makes besides its two streams:
// POST /drop, GET /stats, and turning an error answer into one readable line.
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
  let text = "";
  try {
    text = (await res.text()).trim();
  } catch {
    // body unreadable: the status alone must do
  }
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === "string") text = j.error;
    else if (j && typeof j.message === "string") text = j.message;
  } catch {
    // not JSON: keep the text as it is
  }
  if (text.length > 200) text = text.slice(0, 200) + "…";
  let line = `${res.status} ${res.statusText || reasons[res.status] || ""}`.trim();
  if (text) line += `: ${text}`;
  const retry = res.headers.get("Retry-After");
  if (retry) line += ` (retry after ${retry} s)`;
  return line;
}

// token is the ?token=... of the page's own URL, or null. /drop is open
// from loopback; from anywhere else the server wants this token, which it
// prints at start.
export function token() {
  return new URLSearchParams(location.search).get("token");
}

// drop asks the server to close every connection of one transport
// ("sse" or "ws") and returns a log line: {text, kind}.
export async function drop(transport) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let res;
  try {
    res = await fetch(`/drop?transport=${encodeURIComponent(transport)}`, {
      method: "POST",
      headers,
    });
  } catch (err) {
    return { text: `drop failed: ${err.message} (is the server running?)`, kind: "error" };
  }
  if (res.ok) {
    let n = "?";
    try {
      const j = await res.json();
      if (Number.isInteger(j.dropped)) n = j.dropped;
    } catch {
      // 200 without the JSON: still a success
    }
    return { text: `drop: the server closed ${n} connection(s)`, kind: "warn", dropped: n };
  }
  if (res.status === 403 || res.status === 401) {
    const why = await describe(res);
    const text = t
      ? `drop refused: the token in this page's URL is not the one the server printed at start (${why})`
      : `drop needs the token printed by the server at start: open the page with ?token=... (${why})`;
    return { text, kind: "error" };
  }
  return { text: `drop refused: ${await describe(res)}`, kind: "error" };
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
