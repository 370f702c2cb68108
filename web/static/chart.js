// chart.js: the live latency chart of one panel, drawn on a <canvas>.
// Each tick is a dot: x = when it arrived here, y = arrival minus the time
// the server gave the tick (its latency), on a log scale so that live ticks
// (a few ms) and replayed ones (as old as the outage) both stay readable.
// Drop, reconnect and resume are vertical lines, so a reconnect shows as a
// column of tall dots right after the lines. The tick a new connection
// gets at once (the current one, up to an interval old) is a ring of its
// own: its height is the tick's age, not a latency, so the summary's
// median and max leave it out, as they leave out replayed ticks.
// Why canvas and no library: 60 s of dots is a few hundred rectangles, the
// page must work offline, and there is no build step.

const FLOOR_MS = 1; // latencies below 1 ms (or negative: clock skew) sit on the floor
const PAD = { left: 74, right: 12, top: 10, bottom: 26 }; // room for 16 px axis labels

export class LatencyChart {
  constructor(canvas, { windowMs = 60000 } = {}) {
    this.canvas = canvas;
    this.windowMs = windowMs;
    this.points = []; // {at, ms, kind: "live" | "replayed" | "connect"}, oldest first
    this.marks = []; // {at, kind: "drop" | "reconnect" | "resumed"}
    this.pending = false;
    // Redraw now and then even without ticks, so the picture scrolls left.
    this.timer = setInterval(() => this.request(), 1000);
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => this.request()).observe(canvas);
    }
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.request());
  }

  // add records a tick that arrived at `at` (Date.now()) with latency ms;
  // kind is "live", "replayed" or "connect" (sent at once on connect).
  add(at, ms, kind) {
    if (!Number.isFinite(ms)) return;
    this.points.push({ at, ms, kind });
    this.request();
  }

  // mark draws a vertical line at `at`.
  mark(at, kind) {
    this.marks.push({ at, kind });
    this.request();
  }

  prune(now) {
    const from = now - this.windowMs;
    while (this.points.length && this.points[0].at < from) this.points.shift();
    while (this.marks.length && this.marks[0].at < from) this.marks.shift();
  }

  // summary describes the window: the latest, median and largest latency
  // of live ticks (null before one), and apart from them the largest
  // replayed tick and the latest tick sent at connect.
  summary(now = Date.now()) {
    this.prune(now);
    const of = (kind) => this.points.filter((p) => p.kind === kind).map((p) => p.ms);
    const live = of("live");
    const replayed = of("replayed");
    const connect = of("connect");
    if (live.length + replayed.length + connect.length === 0) return null;
    const sorted = [...live].sort((a, b) => a - b);
    return {
      latest: live.length ? live[live.length - 1] : null,
      median: live.length ? sorted[Math.floor(sorted.length / 2)] : null,
      max: live.length ? sorted[sorted.length - 1] : null,
      count: live.length,
      replayed: replayed.length,
      replayedMax: replayed.length ? Math.max(...replayed) : null,
      connect: connect.length,
      connectLatest: connect.length ? connect[connect.length - 1] : null,
    };
  }

  // counts says how many points of each kind the window holds (for tests).
  counts() {
    const c = { live: 0, replayed: 0, connect: 0 };
    for (const p of this.points) c[p.kind]++;
    return c;
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const c = this.canvas;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (w === 0 || h === 0) return; // not displayed
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);

    const css = getComputedStyle(c);
    const color = (name) => css.getPropertyValue(name).trim() || "#888";
    const fg = color("--fg");
    const muted = color("--muted");
    const grid = color("--border");
    const live = color("--accent");
    const replay = color("--replay");
    const connect = color("--connect");
    const markColor = { drop: color("--bad"), reconnect: color("--warn"), resumed: color("--ok-bg") };

    const now = Date.now();
    this.prune(now);
    const from = now - this.windowMs;
    const x0 = PAD.left;
    const x1 = w - PAD.right;
    const y0 = h - PAD.bottom; // floor
    const y1 = PAD.top;
    // Decades shown: 1 ms .. 1 s at least, more if a tick was older.
    let top = 3;
    for (const p of this.points) {
      while (p.ms > 10 ** top && top < 6) top++;
    }
    const xOf = (at) => x0 + ((at - from) / this.windowMs) * (x1 - x0);
    const yOf = (ms) => {
      const v = Math.log10(Math.max(ms, FLOOR_MS)); // 0 .. top
      return y0 - (Math.min(v, top) / top) * (y0 - y1);
    };

    g.font = "16px system-ui, sans-serif";
    g.lineWidth = 1;
    // Horizontal grid, one line per decade.
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let d = 0; d <= top; d++) {
      const y = Math.round(yOf(10 ** d)) + 0.5;
      g.strokeStyle = grid;
      g.globalAlpha = d === 0 ? 0.9 : 0.35;
      g.beginPath();
      g.moveTo(x0, y);
      g.lineTo(x1, y);
      g.stroke();
      g.globalAlpha = 1;
      g.fillStyle = muted;
      g.fillText(decadeLabel(d), x0 - 6, y);
    }
    // Time axis: seconds ago.
    g.textAlign = "center";
    g.textBaseline = "top";
    const secs = this.windowMs / 1000;
    for (let s = secs; s >= 0; s -= 15) {
      const x = xOf(now - s * 1000);
      g.fillStyle = muted;
      g.fillText(s === 0 ? "now" : `−${s} s`, Math.min(Math.max(x, x0 + 14), x1 - 14), y0 + 5);
    }
    // Drop / reconnect / resumed lines.
    for (const m of this.marks) {
      const x = Math.round(xOf(m.at)) + 0.5;
      g.strokeStyle = markColor[m.kind] ?? fg;
      g.lineWidth = 2;
      g.setLineDash(m.kind === "drop" ? [5, 4] : m.kind === "reconnect" ? [2, 3] : []);
      g.beginPath();
      g.moveTo(x, y1);
      g.lineTo(x, y0);
      g.stroke();
    }
    g.setLineDash([]);
    // The ticks: small dots live, squares replayed, rings sent at connect.
    for (const p of this.points) {
      const x = xOf(p.at);
      const y = yOf(p.ms);
      if (p.kind === "replayed") {
        g.fillStyle = replay;
        g.fillRect(x - 4, y - 4, 8, 8);
      } else if (p.kind === "connect") {
        g.strokeStyle = connect;
        g.lineWidth = 2.5;
        g.beginPath();
        g.arc(x, y, 6, 0, 2 * Math.PI);
        g.stroke();
      } else {
        g.fillStyle = live;
        g.beginPath();
        g.arc(x, y, 2.5, 0, 2 * Math.PI);
        g.fill();
      }
    }
  }
}

function decadeLabel(d) {
  return ["1 ms", "10 ms", "100 ms", "1 s", "10 s", "100 s", "1000 s"][d];
}

// summaryLine puts the chart's summary in words: live ticks first (the
// transport's latency), then what is not a live latency, said apart.
export function summaryLine(s) {
  if (!s) return "";
  const parts = [];
  if (s.count > 0) {
    parts.push(`live: now ${s.latest} ms · median ${s.median} ms · max ${s.max} ms (${s.count} ticks)`);
  }
  if (s.replayed > 0) parts.push(`${s.replayed} replayed, up to ${s.replayedMax} ms old`);
  if (s.connect > 0) parts.push(`sent at connect: ${s.connectLatest} ms old (not counted)`);
  return parts.join(" · ");
}
