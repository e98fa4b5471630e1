package server

import (
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
	refused prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, h *hub.Hub) *metrics {
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
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.sent,
		m.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deploywatch_sse_clients",
			Help: "Event streams connected.",
		}, func() float64 { return float64(h.Stats().Clients) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deploywatch_informers_running",
			Help: "Deployment informers running, one per namespace being watched.",
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
	)
	for _, event := range []string{string(hub.Snapshot), string(hub.Upsert), string(hub.Delete), string(hub.UpstreamKind), reconnectEvent} {
		m.sent.WithLabelValues(event) // present at 0 from the start
	}
	return m
}

func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// upstreamCollector reports deploywatch_upstream_live per namespace being
// watched: 1 while its watch of the API server is live, 0 while it is
// reconnecting or relisting (the page shows its rows as stale).
type upstreamCollector struct{ h *hub.Hub }

var upstreamLiveDesc = prometheus.NewDesc("deploywatch_upstream_live",
	"1 while the namespace's watch of the API server is live, 0 while it is reconnecting or relisting.",
	[]string{"namespace"}, nil)

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) { ch <- upstreamLiveDesc }

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	for ns, live := range c.h.Upstream() {
		v := 0.0
		if live {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(upstreamLiveDesc, prometheus.GaugeValue, v, ns)
	}
}
