// backoff.js: the delay before the page redials a WebSocket.
// Why: the browser never reconnects a WebSocket by itself (EventSource does),
// so the page must, and it must not hammer a server that is down or
// restarting, nor make every open page redial at the same instant after a
// restart. Hence exponential backoff with jitter: the cap starts at 250 ms
// and doubles up to 10 s; the delay is a random point in [cap/2, cap].
// reset() puts it back to the start once a connection has proved good.

export class Backoff {
  constructor({ base = 250, max = 10000, random = Math.random } = {}) {
    this.base = base;
    this.max = max;
    this.random = random;
    this.attempt = 0;
  }

  // next returns the delay in ms for the next attempt and moves on.
  next() {
    const cap = Math.min(this.max, this.base * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(cap / 2 + this.random() * (cap / 2));
  }

  reset() {
    this.attempt = 0;
  }
}
