package webhook

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the sender's metrics; the caller registers them (the
// server's registry), so two senders in one process do not collide.
func (s *Sender) Collectors() []prometheus.Collector {
	counter := func(name, help string, f func(stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(s.snapshot())) })
	}
	return []prometheus.Collector{
		counter("deploywatch_notify_sent_total", "Notifications delivered, per webhook.", func(st stats) int64 { return st.Sent }),
		counter("deploywatch_notify_failed_total", "Notifications given up on (4xx, or retries exhausted), per webhook.", func(st stats) int64 { return st.Failed }),
		counter("deploywatch_notify_retries_total", "Retried posts (network errors, 5xx, 429).", func(st stats) int64 { return st.Retries }),
		counter("deploywatch_notify_dropped_total", "Notifications dropped, oldest first, because the queue was full.", func(st stats) int64 { return st.Dropped }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "deploywatch_notify_queue_length", Help: "Notifications waiting to be delivered."},
			func() float64 { return float64(s.snapshot().Queued) }),
	}
}
