package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The health of several contexts: /readyz and /metrics cover every one, not
// the first alone. A context that is down is named on /readyz and is a 0 of
// deploywatch_context_ready, but fails readiness only when every context is
// down: the others still serve their viewers.

// contextReadiness is one context's line in /readyz.
type contextReadiness struct {
	Context string `json:"context"`
	Status  string `json:"status"` // ready or unready
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
}

// readinessOf asks every context's Server whether it is ready, together,
// so one API server that does not answer costs its timeout once.
func (c *Contexts) readinessOf(ctx context.Context) (out []contextReadiness, ready int) {
	out = make([]contextReadiness, len(c.all))
	var wg sync.WaitGroup
	for i, s := range c.all {
		wg.Go(func() {
			out[i] = contextReadiness{Context: c.names[i], Status: "ready"}
			if e := s.readiness(ctx); e != nil {
				out[i] = contextReadiness{Context: c.names[i], Status: "unready", Reason: e.Reason, Error: e.Message}
			}
		})
	}
	wg.Wait()
	for _, r := range out {
		if r.Status == "ready" {
			ready++
		}
	}
	return out, ready
}

// readyz is ready while one context at least is, saying which are not; 503
// when none is, or from the start of shutdown.
func (c *Contexts) readyz(w http.ResponseWriter, r *http.Request) {
	first := c.all[0]
	if first.draining.Load() {
		first.writeError(w, r, errorf(http.StatusServiceUnavailable, "ShuttingDown", "shutting down"))
		return
	}
	states, ready := c.readinessOf(r.Context())
	if ready == 0 {
		var why []string
		for _, s := range states {
			why = append(why, s.Context+": "+s.Error)
		}
		first.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", http.StatusServiceUnavailable, "error", strings.Join(why, "; "))
		first.writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":    "no served context is ready: " + strings.Join(why, "; "),
			"reason":   "NoContextReady",
			"contexts": states,
		})
		return
	}
	status := "ready"
	if ready < len(states) {
		status = "degraded"
	}
	first.writeJSON(w, http.StatusOK, map[string]any{"status": status, "contexts": states})
}

// contextsRegistry holds the process's metrics once and each context's
// with a context label, and deploywatch_context_ready for each.
func (c *Contexts) contextsRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	for i, s := range c.all {
		labelled := prometheus.WrapRegistererWith(prometheus.Labels{"context": c.names[i]}, reg)
		own := append(s.metrics.own[:len(s.metrics.own):len(s.metrics.own)], prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deploywatch_context_ready",
			Help: "1 when this context is ready as /readyz says (its API server answered within 5 s and serve may list Deployments where it serves), else 0. Asked at most once a second, whoever scrapes.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if s.readiness(ctx) != nil {
				return 0
			}
			return 1
		}))
		for _, col := range own {
			if err := labelled.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return reg, nil
}

// healthHandler serves /readyz and /metrics of every context, with the
// default context's origin check and log; nil for other paths.
func (c *Contexts) healthHandler(r *http.Request) http.Handler {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil // the default context's mux answers 405
	}
	switch r.URL.Path {
	case "/readyz":
		return c.readyzHandler
	case "/metrics":
		return c.metricsHandler
	}
	return nil
}

// newHealth builds the handlers healthHandler returns.
func (c *Contexts) newHealth() error {
	reg, err := c.contextsRegistry()
	if err != nil {
		return err
	}
	first := c.all[0]
	c.readyzHandler = first.middleware(http.HandlerFunc(c.readyz))
	c.metricsHandler = first.middleware(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return nil
}
