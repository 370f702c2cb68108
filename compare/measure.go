package compare

import (
	"context"
	"net/http"
	"time"
)

// measureTimeout bounds one POST /measure.
const measureTimeout = 2 * time.Minute

// serveMeasure is POST /measure: the page's "measure" button. It runs the
// same probes as `ssevsws compare` and answers with the same JSON report.
//
// The probes run against a second server that Compare starts in this
// process, never against this one: the reconnect probe drops connections,
// and the class's own panels must not be cut by a measurement. It is
// allowed like /drop (loopback or the token), because it costs seconds of
// CPU, and one runs at a time (409 while another runs).
func (s *Server) serveMeasure(w http.ResponseWriter, r *http.Request) {
	if !s.dropAllowed(r) {
		httpError(w, http.StatusForbidden, "measure is allowed without the token only on this machine, as http://localhost:<port> or a loopback address; else send the token printed at start (Authorization: Bearer <token>, or open the page as /?token=<token>)")
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
	rep, err := Compare(ctx, CompareOptions{Clients: s.cfg.MeasureClients, Duration: s.cfg.MeasureDuration})
	if err != nil {
		s.log.Warn("measure failed", "err", err)
		httpError(w, http.StatusInternalServerError, "measure: "+err.Error())
		return
	}
	s.log.Info("measured both transports", "took", time.Since(start).Round(time.Millisecond), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, rep)
}
