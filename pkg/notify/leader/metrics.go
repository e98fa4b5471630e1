package leader

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the election's and the leader loop's; the sender has its own
// (see Notifier.Collectors). The caller registers them (the server's
// registry), so two notifiers in one process do not collide.
type metrics struct {
	n *Notifier

	mu       sync.Mutex
	leader   *prometheus.GaugeVec
	isLeader prometheus.Gauge
}

func newMetrics(n *Notifier) *metrics {
	m := &metrics{
		n: n,
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "deploywatch_notify_leader",
			Help: "1 for the replica this one sees holding the notification lease, by identity; absent while none does.",
		}, []string{"identity"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "deploywatch_notify_is_leader",
			Help:        "1 while this replica holds the notification lease and sends.",
			ConstLabels: prometheus.Labels{"identity": n.opts.Identity},
		}),
	}
	return m
}

func (m *metrics) setLeader(identity string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader.Reset()
	if identity != "" {
		m.leader.WithLabelValues(identity).Set(1)
	}
}

func (m *metrics) setLeading(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.isLeader.Set(v)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.leader, m.isLeader,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deploywatch_notify_changes_skipped_total",
			Help: "Status changes the leader's loop never looked at because too many waited; the next change of the same Deployment is still compared with its record.",
		}, func() float64 { m.n.mu.Lock(); defer m.n.mu.Unlock(); return float64(m.n.skipped) }),
	}
}
