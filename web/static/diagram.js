// diagram.js: the direction diagram of one panel (the SVG comes from
// <template id="diagram-sse"> or "diagram-ws" in index.html). A dot flies
// along a line for every message: ticks and echoes down, chat up.
// SSE draws two lines (GET /sse down, POST /chat up), WebSocket one line
// that carries both directions: that difference is the point of the picture.
// The server's box names the instance the stream is on (several instances
// behind one address: README, Experiment 6).

const FLIGHT_MS = 450;

export class Diagram {
  constructor(host, templateId) {
    this.host = host;
    const tpl = document.getElementById(templateId);
    this.svg = tpl.content.firstElementChild.cloneNode(true);
    host.append(this.svg);
    this.dots = {};
    for (const dot of this.svg.querySelectorAll(".dot")) {
      for (const kind of ["tick", "echo", "chat"]) {
        if (dot.classList.contains(`dot-${kind}`)) this.dots[kind] = dot;
      }
    }
    // The server's box: "Server", and under it the instance once known.
    this.label = this.svg.querySelector(".server-label");
    this.label.id = `${host.id}-server`;
    this.word = this.label.querySelector(".server-word");
    this.name = this.label.querySelector(".server-instance");
    // How far a dot flies, in SVG units: from the browser's box to the server's.
    this.span = Number(this.svg.dataset.span) || 0;
    this.reduced = matchMedia("(prefers-reduced-motion: reduce)");
  }

  // server names the instance the stream is on in the server's box
  // ("instance A" under "Server"; a long name alone, squeezed if need be);
  // null: "Server" alone. stale: the panel is away, the next hello may name
  // another one.
  server(instance, stale = false) {
    const full = `instance ${instance}`;
    const text = instance === null ? "" : full.length <= 12 ? full : instance;
    this.name.textContent = text;
    if (text.length > 11) {
      this.name.setAttribute("textLength", "120");
      this.name.setAttribute("lengthAdjust", "spacingAndGlyphs");
    } else {
      this.name.removeAttribute("textLength");
    }
    this.word.setAttribute("y", text ? "31" : "41");
    this.label.dataset.instance = instance ?? "";
    this.label.dataset.stale = String(stale);
  }

  // pulse shows one message: "tick" or "echo" (down) or "chat" (up).
  pulse(kind) {
    this.host.dataset.flow = kind;
    const dot = this.dots[kind];
    if (!dot || typeof dot.animate !== "function") return;
    const line = dot.dataset.lane === "up" ? 1 : -1;
    const distance = this.span * line;
    const frames = this.reduced.matches
      ? [{ opacity: 1 }, { opacity: 0 }]
      : [
          { opacity: 1, transform: "translateX(0px)" },
          { opacity: 1, transform: `translateX(${distance}px)` },
        ];
    dot.animate(frames, { duration: FLIGHT_MS, easing: "ease-in-out" });
  }
}
