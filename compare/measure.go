package compare

import (
	"context"
	"net/http"
	"time"
)

// measureTimeout bounds one POST /measure.
const measureTimeout = 2 * time.Minute

// serveMeasure is POST /measure: the page's "measure" button. It runs
// Config.Measure and answers with what that returns, as JSON; without one it
// answers 501.
//
// What it measures is Config.Measure's business (the binary measures a
// second, in-process server, so that the class's own panels are never cut
// by a measurement). This handler keeps the rules
// around it: allowed like /drop (loopback or the token), because it costs
// seconds of CPU; one at a time (409 while another runs); ended by a
// shutdown; at most measureTimeout long.
func (s *Server) serveMeasure(w http.ResponseWriter, r *http.Request) {
	if !s.dropAllowed(r) {
		httpError(w, http.StatusForbidden, "measure is allowed without the token only on this machine, as http://localhost:<port> or a loopback address; else send the token printed at start (Authorization: Bearer <token>, or open the page as /?token=<token>)")
		return
	}
	if s.cfg.Measure == nil {
		httpError(w, http.StatusNotImplemented, "this server has no measurement client wired in (Config.Measure); run ssevsws compare instead")
		return
	}
	if !s.measuring.CompareAndSwap(false, true) {
		httpError(w, http.StatusConflict, "a measurement is already running; try again when it is done")
		return
	}
	defer s.measuring.Store(false)

	ctx, cancel := context.WithTimeout(r.Context(), measureTimeout)
	defer cancel()
	go func() { // a shutdown ends the measurement too
		select {
		case <-s.stopClock:
			cancel()
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	rep, err := s.cfg.Measure(ctx)
	if err != nil {
		s.log.Warn("measure failed", "err", err)
		httpError(w, http.StatusInternalServerError, "measure: "+err.Error())
		return
	}
	s.log.Info("measured both transports", "took", time.Since(start).Round(time.Millisecond), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, rep)
}
