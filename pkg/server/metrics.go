package server

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// metrics live in the server's own registry, not the global one, so that
// two servers in one process (tests) do not collide.
type metrics struct {
	sent    *prometheus.CounterVec
	sentBy  map[string]prometheus.Counter // sent's children, resolved once
	refused prometheus.Counter
	// own are the collectors of this server's context, the process's
	// excepted: several contexts' are labelled with it (contexts_health.go).
	own []prometheus.Collector
}

// sentOf is the counter of events named event: a map read, not a label
// lookup per message.
func (m *metrics) sentOf(event string) prometheus.Counter {
	if c, ok := m.sentBy[event]; ok {
		return c
	}
	return m.sent.WithLabelValues(event)
}

// newMetrics registers the process's metrics, the hub's and extra in reg.
func newMetrics(reg *prometheus.Registry, h *hub.Hub, extra []prometheus.Collector) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deploywatch_sse_events_sent_total",
			Help: "Server-Sent Events written to clients, by event name.",
		}, []string{"event"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deploywatch_sse_streams_refused_total",
			Help: "Streams told to reconnect later because --max-streams were open.",
		}),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.own = append([]prometheus.Collector{
		m.sent,
		m.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deploywatch_sse_clients",
			Help: "Event streams connected.",
		}, func() float64 { return float64(h.Stats().Clients) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deploywatch_informers_running",
			Help: "Deployment trackers running: one per watched namespace, or one in all with the cluster-wide watch (--watch-scope).",
		}, func() float64 { return float64(h.Stats().Informers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deploywatch_sse_events_coalesced_total",
			Help: "Events a slow client never got because a later state of the same Deployment, or a snapshot, replaced them.",
		}, func() float64 { return float64(h.Stats().Coalesced) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deploywatch_upstream_relists_total",
			Help: "Full relists of Deployments from the API server after the first list of each informer.",
		}, func() float64 { return float64(h.Stats().Relists) }),
		upstreamCollector{h},
	}, extra...)
	for _, c := range m.own {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: registering a collector: %w", err)
		}
	}
	m.sentBy = map[string]prometheus.Counter{}
	for _, event := range []string{string(hub.Snapshot), string(hub.Upsert), string(hub.Delete), string(hub.UpstreamKind), reconnectEvent} {
		m.sentBy[event] = m.sent.WithLabelValues(event) // present at 0 from the start
	}
	return m, nil
}

func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// upstreamCollector reports deploywatch_upstream_watches by state: how
// many namespaces' watches of the API server are live, and how many are
// lost (reconnecting or relisting: the page shows their rows as stale).
// Counts only, so /metrics, which needs no token, names no namespace.
type upstreamCollector struct{ h *hub.Hub }

var upstreamWatchesDesc = prometheus.NewDesc("deploywatch_upstream_watches",
	"Namespaces whose watch of the API server is live (state=live) or lost, reconnecting or relisting (state=lost).",
	[]string{"state"}, nil)

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) { ch <- upstreamWatchesDesc }

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	var live, lost float64
	for _, ok := range c.h.Upstream() {
		if ok {
			live++
		} else {
			lost++
		}
	}
	ch <- prometheus.MustNewConstMetric(upstreamWatchesDesc, prometheus.GaugeValue, live, "live")
	ch <- prometheus.MustNewConstMetric(upstreamWatchesDesc, prometheus.GaugeValue, lost, "lost")
}
