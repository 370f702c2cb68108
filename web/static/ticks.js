// ticks.js: lost / duplicate / replay accounting for one clock stream.
// Why a module of its own: "no tick is lost across a reconnect" is the claim
// the page exists to show, so the rule that turns seq numbers into counters
// lives here, with no DOM, where it is easy to read (and to test).
//
// The rule: after the first tick each tick should be previous seq + 1.
//   - a larger jump adds (jump - 1) to lost: ticks that silently vanished;
//   - a gap event {from,to} adds (to - from + 1) to lost too, but also to
//     gapLost: the server said it could no longer replay them (explained);
//   - a seq equal to or below the previous one is a duplicate.

export class TickCounter {
  constructor() {
    this.last = null; // last seq seen, null before the first tick
    this.ticks = 0;
    this.lost = 0;
    this.gapLost = 0;
    this.duplicates = 0;
    this.replayed = 0;
    this.openedAt = 0; // Date.now() of the current connection's open
    this.resumed = false; // whether that connection resumed from a last seq
  }

  // opened records a new connection; resumed says whether it asked the
  // server to continue after this.last (Last-Event-ID or ?lastEventId=).
  opened(now = Date.now()) {
    this.openedAt = now;
    this.resumed = this.last !== null;
  }

  // tick records one tick and says what it means:
  //   {kind: "first"} | {kind: "next"} | {kind: "jump", from, to}
  //   | {kind: "duplicate", after}
  // plus replayed: true when the tick was re-sent from the server's replay
  // buffer. The server may say so itself (a true "replay" field); otherwise
  // a tick on a resumed connection whose time is clearly before the
  // connection opened can only be a replay.
  tick(seq, time, flaggedReplay = false) {
    this.ticks++;
    const t = Date.parse(time);
    const replayed = flaggedReplay ||
      (this.resumed && Number.isFinite(t) && t < this.openedAt - 50);
    if (replayed) this.replayed++;
    const prev = this.last;
    if (prev === null) {
      this.last = seq;
      return { kind: "first", replayed };
    }
    if (seq <= prev) {
      this.duplicates++;
      return { kind: "duplicate", after: prev, replayed };
    }
    this.last = seq;
    if (seq === prev + 1) return { kind: "next", replayed };
    this.lost += seq - prev - 1;
    return { kind: "jump", from: prev + 1, to: seq - 1, replayed };
  }

  // gap records the server's notice that ticks from..to will never come.
  // It returns how many ticks that is. The next tick after a gap is to + 1,
  // so this.last moves to `to` and the gap is not counted twice as a jump.
  gap(from, to) {
    const n = to - from + 1;
    this.lost += n;
    this.gapLost += n;
    if (this.last === null || to > this.last) this.last = to;
    return n;
  }
}
