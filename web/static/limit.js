// limit.js: the connection-limit experiment. It opens 8 extra EventSources
// to this server, counts how many open and how many keep waiting, shows the
// result, and closes all 8 again.
// Why: over HTTP/1.1 every open EventSource holds one TCP connection for as
// long as it lives, and the browser allows only 6 per server (scheme, host,
// port). This page's own /sse holds one already; its WebSocket is counted
// separately by Chromium (measured: 5 of 8 open with both panels open, 6 of
// 8 on a page with no stream of its own). Over HTTP/2 every EventSource is
// a stream on one shared connection, so all 8 open (measured too: ssevsws
// -tls, or the page test over HTTP/2).

const EXTRAS = 8;
const PER_SERVER = 6; // HTTP/1.1 connections per server in Chromium, Firefox, Safari
const SETTLE_MS = 1200; // no new open for this long: the rest are waiting
const MAX_MS = 8000;
// After close() Chromium may keep a socket up to 5 s to drain the cancelled
// response (it hopes to reuse it); until then it still counts toward the 6.
// So the button waits that long before it allows another run.
const DRAIN_MS = 5500;

export class LimitExperiment {
  // ownHeld() names the HTTP/1.1 connections the page itself holds open
  // (its EventSource when open, a Measure request while it runs), one
  // string each; before() and after() run around the experiment (app.js
  // pauses the /stats polling).
  constructor({ button, result, chips, ownHeld, before, after }) {
    this.button = button;
    this.result = result;
    this.chips = chips;
    this.ownHeld = ownHeld;
    this.before = before;
    this.after = after;
    this.last = null;
    button.addEventListener("click", () => this.run());
  }

  async run() {
    this.button.disabled = true;
    this.before();
    const protocol = navProtocol();
    const held = this.ownHeld();
    const own = held.length;
    const multiplexed = protocol === "h2" || protocol === "h3";
    const expected = multiplexed ? EXTRAS : Math.max(0, Math.min(EXTRAS, PER_SERVER - own));
    this.result.dataset.state = "running";
    this.result.textContent = `Opening ${EXTRAS} EventSources to /sse …`;
    this.chips.replaceChildren();

    const extras = [];
    let opened = 0;
    let failed = 0;
    const started = performance.now();
    let lastChange = started;
    for (let i = 0; i < EXTRAS; i++) {
      const chip = document.createElement("li");
      chip.dataset.state = "waiting";
      chip.textContent = `${i + 1} waiting`;
      this.chips.append(chip);
      const es = new EventSource("/sse");
      es.addEventListener("open", () => {
        if (chip.dataset.state !== "waiting") return;
        opened++;
        lastChange = performance.now();
        chip.dataset.state = "open";
        chip.textContent = `${i + 1} open`;
      });
      es.addEventListener("error", () => {
        if (es.readyState !== EventSource.CLOSED || chip.dataset.state === "failed") return;
        if (chip.dataset.state === "open") opened--;
        failed++;
        lastChange = performance.now();
        chip.dataset.state = "failed";
        chip.textContent = `${i + 1} failed`;
      });
      extras.push(es);
    }

    // Wait until every one is open; or until as many as expected have
    // settled and nothing changed for a while (the rest are waiting); or,
    // when fewer open than expected (other tabs, a slow machine), MAX_MS.
    // The settle clock only counts once the expected number is reached, so
    // a slow first open is not taken for "the rest are waiting".
    await new Promise((resolve) => {
      const check = () => {
        const now = performance.now();
        const settled = opened + failed >= expected && now - lastChange > SETTLE_MS;
        if (opened + failed === EXTRAS || settled || now - started > MAX_MS) {
          resolve();
          return;
        }
        setTimeout(check, 100);
      };
      check();
    });
    const waiting = EXTRAS - opened - failed;
    for (const es of extras) es.close();
    for (const chip of this.chips.children) chip.dataset.closed = "true";

    const r = this.result;
    r.dataset.state = "done";
    r.dataset.opened = String(opened);
    r.dataset.waiting = String(waiting);
    r.dataset.failed = String(failed);
    r.dataset.expected = String(expected);
    r.dataset.protocol = protocol;
    let text = `${opened} of ${EXTRAS} opened, ${waiting} waiting` + (failed ? `, ${failed} failed` : "") + ". ";
    if (multiplexed) {
      text += `This page came over ${protocol}: all ${EXTRAS} share one connection, so all should open.`;
    } else {
      const by = own ? ` held by this page (${held.join(", ")})` : " held by this page";
      text += `This page came over ${protocol || "HTTP/1.1"}: ${PER_SERVER} per server − ${own}${by} = ${expected}.`;
    }
    if (opened !== expected) text += ` (Expected ${expected}; perhaps other tabs on this server hold connections too.)`;
    text += ` All ${EXTRAS} closed again` + (multiplexed ? "." : " (the browser may hold their sockets up to 5 s more).");
    r.textContent = text;
    this.last = { opened, waiting, failed, expected, protocol, own };
    this.after();
    setTimeout(() => {
      this.button.disabled = false;
    }, DRAIN_MS);
  }
}

// navProtocol is the protocol the page itself came over ("http/1.1", "h2").
function navProtocol() {
  const nav = performance.getEntriesByType("navigation")[0];
  return (nav && nav.nextHopProtocol) || "http/1.1";
}
