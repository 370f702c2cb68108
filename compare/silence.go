package compare

import (
	"time"
)

// POST /drop?transport=...&mode=silent: the server goes silent on one
// transport's open connections without closing them, as a path does when a
// NAT entry expires, a laptop sleeps or a proxy stops forwarding. Nothing
// more is written to them, no tick, no keep-alive, no echo (a chat is
// accepted and lost, as on a dead path), and each client's watchdog has to
// notice. After silentFor the server closes those still open, as a plain
// /drop does; a client that gave up first counts as a stall in /stats.

// silentFor is how long a silenced connection stays open: three heartbeats,
// or three ticks if they are further apart (a page's EventSource cannot see
// the keep-alive comments, so its watchdog waits twice the longer of the
// two), so that every client's watchdog fires first; at least a second.
func (s *Server) silentFor() time.Duration {
	if s.cfg.Heartbeat <= 0 {
		return 30 * time.Second // no heartbeat, no watchdog: long enough to see that nothing happens
	}
	return max(3*max(s.cfg.Heartbeat, s.cfg.Interval), time.Second)
}

// silence makes every open connection of transport t silent, closes those
// still open after d, and says how many it silenced.
func (h *hub) silence(t Transport, d time.Duration) int {
	h.mu.Lock()
	silenced := make(map[*subscription]bool)
	for id, s := range h.subs {
		if s.transport != t || s.silent.Load() {
			continue
		}
		s.silent.Store(true)
		delete(h.queued, id) // the handler path: no more ticks
		if s.out != nil {
			s.out.Seal() // the direct path: no broadcasts, keep-alives or echoes
		}
		silenced[s] = true
	}
	h.mu.Unlock()
	if len(silenced) > 0 {
		time.AfterFunc(d, func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			n := h.endLocked(ErrDropped, func(s *subscription) bool { return silenced[s] })
			h.stats.of(t).Dropped.Add(int64(n))
		})
	}
	return len(silenced)
}
