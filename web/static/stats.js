// stats.js: the "connection cost" view, fed from GET /stats every 2 s.
// Why the server's numbers and not the page's: the browser hands the page
// only the payload of each event or message; what each transport really
// writes (SSE's id:/event:/data: lines, chunk framing, frame headers) only
// the server knows.
// Two kinds of number, kept apart because they answer different questions:
// one tick on the wire (tick_wire_bytes: what the protocol costs per tick,
// the same figure ssevsws compare and the README give) and this session's
// totals (what every client cost so far: hellos, echoes, keep-alives too).
// Dividing the second by ticks gives neither, so the page does not.

import { getStats } from "./http.js";
import { clock } from "./timeline.js";

const KEYS = ["open", "connects", "resumes", "ticks", "bytes", "dropped", "stalls", "chats"];

export class StatsTable {
  // root: the element that holds every [data-stat] cell; status: the line
  // that says when /stats was last read.
  constructor(root, status, { every = 2000 } = {}) {
    this.cells = new Map();
    for (const td of root.querySelectorAll("[data-stat]")) this.cells.set(td.dataset.stat, td);
    this.status = status;
    this.every = every;
    this.paused = false;
    this.timer = null;
    this.last = null;
    this.gen = 0; // bumped on pause/resume, so only one polling loop runs
  }

  start() {
    this.tick();
  }

  // pause stops polling (the connection-limit experiment wants no request
  // of the page's own in flight); resume restarts it at once.
  pause() {
    this.paused = true;
    this.gen++;
    clearTimeout(this.timer);
  }

  resume() {
    this.paused = false;
    this.gen++;
    clearTimeout(this.timer);
    this.tick();
  }

  async tick() {
    const gen = this.gen;
    if (!document.hidden) await this.refresh();
    if (!this.paused && gen === this.gen) this.timer = setTimeout(() => this.tick(), this.every);
  }

  async refresh() {
    const r = await getStats();
    if (this.paused) return;
    if (!r.ok) {
      this.status.textContent = r.text;
      this.status.dataset.ok = "false";
      return;
    }
    const s = r.stats;
    this.last = s;
    for (const t of ["sse", "ws"]) {
      const c = s[t] ?? {};
      for (const k of KEYS) this.set(`${t}.${k}`, c[k], k === "bytes" ? " B" : "");
      this.set(`${t}.tick-wire`, s.tick_wire_bytes?.[t], " B");
    }
    // Behind a load balancer each read may come from another instance,
    // each with its own totals: say which one answered.
    const from = typeof s.instance === "string" && s.instance ? ` from instance ${s.instance}` : "";
    this.status.textContent = `read at ${clock()}${from} · tick interval ${s.interval_ms} ms`;
    this.status.dataset.ok = "true";
  }

  // set writes one cell: a number grouped for reading from afar ("12,345 B").
  set(key, v, unit = "") {
    const td = this.cells.get(key);
    if (!td) return;
    td.textContent = typeof v === "number" ? v.toLocaleString("en-US") + unit : "-";
  }
}
