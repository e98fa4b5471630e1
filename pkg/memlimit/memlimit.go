// Package memlimit tells when the process nears its memory limit, so that
// serve says so in its log and metrics before the kernel's OOM killer ends
// it without a word.
//
// The limit is the lower of Go's soft limit (GOMEMLIMIT) and the cgroup's
// (a container's resources.limits.memory); what counts against it is the
// memory the Go runtime holds from the system, as GOMEMLIMIT counts it.
package memlimit

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// Near is the share of the limit in use from which the process is near
	// it; Clear the share below which it no longer is (apart, so that a
	// heap that hovers at the mark does not log a line each check).
	Near, Clear = 0.9, 0.8
	// Every is how often memory is checked.
	Every = 5 * time.Second
)

// Limit is the limit that holds and where it comes from ("GOMEMLIMIT" or
// "cgroup"); 0 and "" when there is none.
func Limit(cgroup int64) (int64, string) {
	soft := debug.SetMemoryLimit(-1) // reads it
	switch {
	case soft != math.MaxInt64 && (cgroup <= 0 || soft <= cgroup):
		return soft, "GOMEMLIMIT"
	case cgroup > 0:
		return cgroup, "cgroup"
	}
	return 0, ""
}

// InUse is the memory the Go runtime holds from the system, less what it
// has given back: what GOMEMLIMIT limits.
func InUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// Watcher follows memory in use against a limit.
type Watcher struct {
	limit  int64
	source string
	inUse  func() int64
	log    *slog.Logger
	near   bool

	nearGauge, inUseGauge, limitGauge prometheus.Gauge
}

// New returns a Watcher of inUse against limit (0: none, never near),
// whose changes go to log.
func New(limit int64, source string, inUse func() int64, log *slog.Logger) *Watcher {
	w := &Watcher{limit: limit, source: source, inUse: inUse, log: log,
		nearGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "deploywatch_memory_near_limit",
			Help: "1 while the memory in use is above 90% of the limit (until it is below 80%), else 0.",
		}),
		inUseGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "deploywatch_memory_in_use_bytes",
			Help: "Memory the Go runtime holds from the system, less what it gave back: what GOMEMLIMIT limits.",
		}),
		limitGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "deploywatch_memory_limit_bytes",
			Help: "The lower of GOMEMLIMIT and the cgroup's memory limit; 0 when neither is set.",
		}),
	}
	w.limitGauge.Set(float64(limit))
	return w
}

// Collectors are the Watcher's metrics.
func (w *Watcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.nearGauge, w.inUseGauge, w.limitGauge}
}

// Check reads memory in use once, and logs when the process comes near
// its limit or is no longer near it.
func (w *Watcher) Check() {
	used := w.inUse()
	w.inUseGauge.Set(float64(used))
	if w.limit <= 0 {
		return
	}
	share := float64(used) / float64(w.limit)
	was := w.near
	w.near = (!was && share >= Near) || (was && share >= Clear)
	// The gauge first: whoever reads the log line finds the metric agree.
	if w.near {
		w.nearGauge.Set(1)
	} else {
		w.nearGauge.Set(0)
	}
	switch {
	case w.near && !was:
		w.log.Warn("memory near its limit: raise the limit (deploy/: resources.limits.memory and GOMEMLIMIT) or watch less (--namespaces, --watch-scope=namespace)",
			"inUse", mib(used), "limit", mib(w.limit), "limitFrom", w.source)
	case was && !w.near:
		w.log.Info("memory below its limit again", "inUse", mib(used), "limit", mib(w.limit), "limitFrom", w.source)
	}
}

// Run checks every Every until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		w.Check()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func mib(n int64) string { return slog.Int64Value(n>>20).String() + "MiB" }
