// measure.js: the "Measure" button. It asks the server to run the same
// probes as `ssevsws compare` (POST /measure) and shows the side-by-side
// table it answers with.
// Why: /stats counts what this server has done; the probes measure what a
// connection costs (connect time, handshake bytes, memory, round trips,
// resume time), the same way for both transports. The server runs them on a
// second server of its own, so this page's two streams are not disturbed.

import { describe, token } from "./http.js";

export class Measure {
  constructor({ button, table, status }) {
    this.button = button;
    this.table = table;
    this.status = status;
    this.last = null; // the last report, for tests
    this.running = false; // a POST /measure is in flight (it holds a connection)
    button.addEventListener("click", () => this.run());
  }

  async run() {
    this.button.disabled = true;
    this.running = true;
    this.status.textContent = "measuring both transports (a few seconds)…";
    this.table.dataset.state = "running";
    const headers = {};
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    try {
      const res = await fetch("/measure", { method: "POST", headers });
      if (!res.ok) {
        this.status.textContent = `measure refused: ${await describe(res)}`;
        this.table.dataset.state = "error";
        return;
      }
      const rep = await res.json();
      this.last = rep;
      this.render(rep);
      this.status.textContent =
        `measured ${new Date(rep.date).toLocaleTimeString()} on ${rep.server} server, ` +
        `${rep.cpus} CPUs, ${rep.go}; each probe ${rep.duration} per transport`;
      this.table.dataset.state = "done";
    } catch (err) {
      this.status.textContent = `measure failed: ${err.message} (is the server running?)`;
      this.table.dataset.state = "error";
    } finally {
      this.running = false;
      this.button.disabled = false;
    }
  }

  // render fills the table body: one row per probe result, with its note as
  // the row's title. Everything goes in with textContent.
  render(rep) {
    const body = this.table.tBodies[0];
    body.replaceChildren();
    for (const row of rep.rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = row.key;
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      if (row.note) th.title = row.note;
      // The server formats every value (probe.Format), so the page and
      // ssevsws compare print the same number the same way.
      tr.append(th, cell(row.sse_text), cell(row.ws_text), cell(row.ratio_text));
      body.append(tr);
    }
    this.table.hidden = false;
  }
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}
