// views.js: the tabs in the header. The page has one act, "stage" (both
// panels, everything a class watches, no scrolling at 1280×720), and views
// for the rest: latency charts, logs, connection cost, Measure, the
// connection limit, the experiments. The view is <main data-view="...">;
// style.css shows and hides the parts, this module only switches.
// Why tabs and not one long page: on a 720p projector a long page means
// scrolling away from the panels exactly when something happens in them.
// The view is kept in the URL's #fragment, so a reload keeps it.

export class Views {
  // nav: the role="tablist" element; main: the element that gets data-view.
  constructor(nav, main) {
    this.main = main;
    this.tabs = [...nav.querySelectorAll('[role="tab"]')];
    this.names = this.tabs.map((t) => t.dataset.view);
    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.show(tab.dataset.view));
    }
    // Arrow keys move between tabs, as in any tab list.
    nav.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const i = this.names.indexOf(this.current);
      const next = this.tabs[(i + step + this.tabs.length) % this.tabs.length];
      this.show(next.dataset.view);
      next.focus();
      e.preventDefault();
    });
    const fromURL = location.hash.slice(1);
    this.show(this.names.includes(fromURL) ? fromURL : "stage", { keepURL: true });
  }

  get current() {
    return this.main.dataset.view;
  }

  // show switches to a view: "stage", "latency", "log", "cost", ...
  show(name, { keepURL = false } = {}) {
    if (!this.names.includes(name)) return;
    this.main.dataset.view = name;
    for (const tab of this.tabs) {
      const on = tab.dataset.view === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    if (!keepURL) {
      const url = location.pathname + location.search + (name === "stage" ? "" : `#${name}`);
      history.replaceState(null, "", url);
    }
  }
}
