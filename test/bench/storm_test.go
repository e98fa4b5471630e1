package bench

import (
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchStorm: every stream of a namespace of 300 Deployments is cut at once
// and reconnects (a replica drained, a network blip): how long until all
// are back, serve's peak memory, the API requests it costs and whether
// serve stays ready, then a change that every client must see (each ends at
// the truth).
func benchStorm(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	const name, size = "storm", 300
	ns := fanoutNamespace(t, name, size)
	clients := benchSizes(t, "BENCH_STORM_CLIENTS", []int{pick(10000, 1000)})
	sec := section{
		title: fmt.Sprintf("7. Reconnect storm: N streams of a namespace of %d Deployments cut at once, reconnecting", size),
		head: []string{"clients", "all back with a snapshot after", "serve RSS before", "peak during", "serve CPU", "API requests (all, the cluster's own included)",
			"same window without a storm", "/readyz failures", "clients at the truth after"},
	}
	requests := func() float64 { return sumMetric(apiMetrics(t, cs), "apiserver_request_total") }
	for k, n := range clients {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := startServe(t)
			l := connect(t, s, ns, n, 0, byte(40+2*k), false)
			time.Sleep(time.Second)
			rss := procStatus(s.pid(), "VmRSS")
			// Resets VmHWM to the current RSS, so the peak is the storm's.
			_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0)

			var notReady, probes atomic.Int64
			stop := make(chan struct{})
			probed := make(chan struct{})
			go func() {
				defer close(probed)
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					probes.Add(1)
					resp, err := http.Get("http://" + s.addr + "/readyz")
					if err != nil || resp.StatusCode != http.StatusOK {
						notReady.Add(1)
					}
					if err == nil {
						resp.Body.Close()
					}
				}
			}()
			req0 := requests()
			cpu0 := cpuTime(s.pid())
			t0 := time.Now()
			l.close()
			l2 := connectLoad(t, s, ns, n, 1, byte(41+2*k), false, true)
			back := time.Since(t0)
			cpu1 := cpuTime(s.pid())
			req1 := requests()
			close(stop)
			<-probed
			peak := procStatus(s.pid(), "VmHWM")

			// The same window with nothing happening, for the cluster's own requests.
			q0 := requests()
			time.Sleep(back)
			q1 := requests()

			l2.change(t, ns, name, 1) // waits until every client saw it
			sec.rows = append(sec.rows, []string{
				fmt.Sprint(n), fmt.Sprintf("%.1f s", back.Seconds()), mb(rss), mb(peak),
				fmt.Sprintf("%.1f s", (cpu1 - cpu0).Seconds()),
				fmt.Sprintf("%.0f", req1-req0-1), fmt.Sprintf("%.0f", q1-q0-1),
				fmt.Sprintf("%d of %d", notReady.Load(), probes.Load()),
				fmt.Sprintf("%d of %d (%d streams ended by serve and redialled)", l2.received[1].Load(), n, l2.redials.Load()),
			})
		})
	}
	sec.notes = append(sec.notes, "The benchmark closes every connection at once and dials them all again at once (64 dials in flight), "+
		"none with Last-Event-ID, so every client needs a full snapshot: the worst case. A stream serve ends (--max-streams, or told to come back) is dialled again after the retry serve advised, as EventSource does. "+
		"API requests: apiserver_request_total (every resource and verb) over the storm, minus the benchmark's own read of it; "+
		"the window without a storm is as long, right after. /readyz polled every 100 ms during the storm. "+
		"At the truth: every client then received one more scale.")
	r.add(sec)
}
