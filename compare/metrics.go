package compare

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// GET /metrics: the counters of GET /stats in the Prometheus text format,
// for a platform that scrapes its services. The collector reads the same
// atomics as /stats when it is scraped, so the hot path pays nothing for it
// and the two endpoints cannot disagree. The Go and process collectors add
// what a class asks next: memory, goroutines, open files, CPU.

// Names follow Prometheus' conventions: the ssevsws_ prefix, a transport
// label, counters ending in _total.
var (
	metricOpen      = metricDesc("connections_open", "Connections open now.")
	metricDirect    = metricDesc("connections_direct", "Open connections the fan-out engine writes to directly, with no goroutine; the rest (HTTP/2, TLS) are written by their handler.")
	metricBehind    = metricDesc("connections_behind", "Open connections behind now: their socket is full and a goroutine writes out their queue.")
	metricAccepted  = metricDesc("connections_accepted_total", "Connections accepted since start.")
	metricResumes   = metricDesc("resumes_total", "Connections that resumed from a last event id.")
	metricGaps      = metricDesc("resume_gaps_total", "Resumes from before the replay window (a gap was sent).")
	metricTicks     = metricDesc("ticks_sent_total", "Tick messages written, live and replayed.")
	metricBytes     = metricDesc("bytes_sent_total", "Bytes written: SSE the whole stream, WebSocket the message payloads.")
	metricSlow      = metricDesc("slow_clients_dropped_total", "Clients dropped as too slow: queue full or write timed out.")
	metricStalls    = metricDesc("stalls_total", "Connections silenced by POST /drop?mode=silent that their client gave up on (its watchdog) before the server closed them.")
	metricDropped   = metricDesc("connections_dropped_total", "Connections closed by POST /drop.")
	metricTickBytes = metricDesc("tick_wire_bytes", "What one tick costs on the wire over HTTP/1.1, framing included.")
	metricChats     = prometheus.NewDesc("ssevsws_chats_total", "Chat messages, by result: echoed, or refused for now (rate limit, full queue).",
		[]string{"transport", "result"}, nil)

	// Only with a broker (Config.Router): a single instance has none to
	// report up or down.
	metricBrokerUp = prometheus.NewDesc("ssevsws_broker_up", "1 while the chat broker is reachable, else 0.", nil, nil)
	metricRouted   = prometheus.NewDesc("ssevsws_chats_routed_total",
		"SSE chats taken here for a stream on another instance, handed to the broker, by result: delivered, refused (429, queue full), unknown_client (404), broker_down (503).",
		[]string{"result"}, nil)
)

func metricDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("ssevsws_"+name, help, []string{"transport"}, nil)
}

// statsCollector turns a Stats snapshot into metrics at scrape time.
type statsCollector struct{ s *Server }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricOpen, metricDirect, metricBehind, metricAccepted, metricResumes, metricGaps, metricTicks,
		metricBytes, metricSlow, metricDropped, metricStalls, metricTickBytes, metricChats, metricBrokerUp, metricRouted} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for _, t := range Transports {
		n, label := st.Of(t), string(t)
		gauge := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), label)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
		}
		gauge(metricOpen, n.Open)
		gauge(metricDirect, n.Direct)
		gauge(metricBehind, n.Behind)
		gauge(metricTickBytes, int64(st.TickWireBytes.Of(t)))
		counter(metricAccepted, n.Connects)
		counter(metricResumes, n.Resumes)
		counter(metricGaps, n.Gaps)
		counter(metricTicks, n.Ticks)
		counter(metricBytes, n.Bytes)
		counter(metricSlow, n.SlowDropped)
		counter(metricDropped, n.Dropped)
		counter(metricStalls, n.Stalls)
		ch <- prometheus.MustNewConstMetric(metricChats, prometheus.CounterValue, float64(n.Chats), label, "echoed")
		ch <- prometheus.MustNewConstMetric(metricChats, prometheus.CounterValue, float64(n.ChatRefused), label, "refused")
	}
	if b := st.Broker; b != nil {
		up := 0.0
		if b.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(metricBrokerUp, prometheus.GaugeValue, up)
		for result, n := range b.Routed.ByResult() {
			ch <- prometheus.MustNewConstMetric(metricRouted, prometheus.CounterValue, float64(n), result)
		}
	}
}

// metricsHandler serves this server's registry. Each Server has its own
// registry, not the global one, so that several servers in one process
// (tests, the in-process server of POST /measure) do not collide.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{s}})
}

// slogAdapter hands promhttp's errors (a failed collection) to the
// server's log.
type slogAdapter struct{ s *Server }

func (a slogAdapter) Println(v ...any) { a.s.log.Warn("metrics", "err", v) }
