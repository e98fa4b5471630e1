package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchAPILoad: requests to the API server with 1 and 100 web clients of a
// namespace, for serve's shared watch and for the polling design it
// replaces (every client GETs serve's list of the namespace every 2 s, and
// each GET lists the Deployments from the API server).
func benchAPILoad(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	window := pick(60*time.Second, 30*time.Second)
	s := startServe(t, "--linger", "0")
	sec := section{
		title: fmt.Sprintf("6. API-server load: requests per minute (Deployments + Namespaces), over %v with N web clients of one namespace", window),
		head:  []string{"design", "1 client", "100 clients"},
	}
	requests := func() (deployments, namespaces float64) {
		m := apiMetrics(t, cs)
		return sumMetric(m, "apiserver_request_total", `resource="deployments"`), sumMetric(m, "apiserver_request_total", `resource="namespaces"`)
	}
	measure := func(clients int, poll bool) string {
		ns := c.NewNamespace(t)
		createDeployment(t, cs, ns, testutil.Deployment("web", testutil.Replicas(1), testutil.PodSpec(unschedulable)))
		waitSettled(t, cs, ns, "web", false)
		time.Sleep(time.Second) // the controller's last status update
		d0, n0 := requests()
		dropped := ""
		ctx, cancel := context.WithTimeout(context.Background(), window)
		defer cancel()
		if clients == 0 {
			<-ctx.Done()
		} else if poll {
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tick := time.NewTicker(2 * time.Second)
					defer tick.Stop()
					for {
						if resp, err := s.get("/api/namespaces/" + ns + "/deployments"); err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
						}
					}
				}()
			}
			wg.Wait()
		} else {
			l := connect(t, s, ns, clients, 0, 30, false)
			<-ctx.Done()
			if e := l.ended.Load(); e > 0 {
				dropped = fmt.Sprintf(" (serve ended %d of the %d streams)", e, clients)
			}
			l.close()
		}
		d1, n1 := requests()
		return fmt.Sprintf("%.0f + %.0f%s", (d1-d0)/window.Minutes(), (n1-n0)/window.Minutes(), dropped)
	}
	sec.rows = append(sec.rows,
		[]string{"no clients (the cluster's own traffic)", measure(0, false), ""},
		[]string{"serve (SSE, one shared watch)", measure(1, false), measure(100, false)},
		[]string{"polling every 2 s", measure(1, true), measure(100, true)},
	)
	sec.notes = append(sec.notes, "Counted from the API server's apiserver_request_total (resource deployments or namespaces, every verb) before and after the window, "+
		"which opens as the clients connect: serve's one LIST, its namespace check and its WATCH (counted when it ends; --linger 0 ends it as the clients leave). Target: flat in the number of clients.")
	r.add(sec)
}
