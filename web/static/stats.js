// stats.js: the "connection cost" table, fed from GET /stats every 2 s.
// Why the server's numbers and not the page's: the browser hands the page
// only the payload of each event or message; what each transport really
// writes (SSE's id:/event:/data: lines, comments) only the server knows.

import { getStats } from "./http.js";
import { clock } from "./timeline.js";

const KEYS = ["open", "connects", "resumes", "ticks", "bytes", "dropped", "chats"];

export class StatsTable {
  constructor(table, status, { every = 2000 } = {}) {
    this.cells = new Map();
    for (const td of table.querySelectorAll("[data-stat]")) this.cells.set(td.dataset.stat, td);
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
    this.last = r.stats;
    for (const t of ["sse", "ws"]) {
      const c = r.stats[t] ?? {};
      for (const k of KEYS) this.set(`${t}.${k}`, c[k]);
      const per = c.ticks > 0 ? (c.bytes / c.ticks).toFixed(1) : "-";
      this.set(`${t}.per-tick`, per);
    }
    this.status.textContent = `read at ${clock()} · tick interval ${r.stats.interval_ms} ms`;
    this.status.dataset.ok = "true";
  }

  set(key, v) {
    const td = this.cells.get(key);
    if (!td) return;
    td.textContent = typeof v === "number" ? v.toLocaleString("en-US") : String(v ?? "-");
  }
}
