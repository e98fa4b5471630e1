package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchStorm: every stream of a namespace of 300 Deployments is cut at once
// and each client comes back as the page does (a replica drained, a network
// blip, every tab reloaded): how long until all are back, serve's peak
// memory, the API requests serve itself makes (its
// deploywatch_kube_requests_total) next to a window as long without a
// storm, whether serve stays ready, then a change that every client must
// see (each ends at the truth).
func benchStorm(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	const name, size = "storm", 300
	ns := fanoutNamespace(t, name, size)
	clients := benchSizes(t, "BENCH_STORM_CLIENTS", []int{pick(10000, 1000)})
	sec := section{
		title: fmt.Sprintf("7. Reconnect storm: N streams of a namespace of %d Deployments cut at once, each client back as a reloaded page", size),
		head: []string{"clients", "all back with a snapshot after", "serve RSS before", "peak during", "serve CPU",
			"serve's API requests in the storm", "serve's, same window without a storm",
			"API server's requests, all (storm / without)", "/readyz failures", "clients at the truth after", "load generator CPU in the storm"},
	}
	apiRequests := func() float64 { return sumMetric(apiMetrics(t, cs), "apiserver_request_total") }
	for k, n := range clients {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := startServe(t)
			ip := byte(40 + 2*k + 2*(os.Getpid()%10)) // another run's sockets may still be in TIME_WAIT
			l := connect(t, s, ns, n, 0, ip, false)
			time.Sleep(time.Second)
			rss := procStatus(s.pid(), "VmRSS")
			// Resets VmHWM to the current RSS, so the peak is the storm's.
			_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0)

			probe := startProbes(s)
			own0, all0 := s.kubeRequests(t), apiRequests()
			cpu0, self0 := cpuTime(s.pid()), cpuTime(os.Getpid())
			t0 := time.Now()
			l.close()
			l2 := reconnectAsPages(t, s, ns, n, ip+1)
			back := time.Since(t0)
			cpu1, self1 := cpuTime(s.pid()), cpuTime(os.Getpid())
			own1, all1 := s.kubeRequests(t), apiRequests()
			notReady, probes := probe.stop()
			peak := procStatus(s.pid(), "VmHWM")

			// The same window with nothing happening but the probes: the
			// cluster's own requests, and serve's watches going on.
			quiet := startProbes(s)
			q0, qall0 := s.kubeRequests(t), apiRequests()
			time.Sleep(back)
			q1, qall1 := s.kubeRequests(t), apiRequests()
			quiet.stop()

			l2.change(t, ns, name, 1) // waits until every client saw it
			sec.rows = append(sec.rows, []string{
				fmt.Sprint(n), fmt.Sprintf("%.1f s", back.Seconds()), mb(rss), mb(peak),
				fmt.Sprintf("%.1f s", (cpu1 - cpu0).Seconds()),
				requestsBetween(own0, own1), requestsBetween(q0, q1),
				fmt.Sprintf("%.0f / %.0f", all1-all0-1, qall1-qall0-1),
				fmt.Sprintf("%d of %d", notReady, probes),
				fmt.Sprintf("%d of %d (%d streams ended by serve and redialled)", l2.received[1].Load(), n, l2.redials.Load()),
				fmt.Sprintf("%.1f s", (self1 - self0).Seconds()),
			})
		})
	}
	sec.notes = append(sec.notes, "The benchmark closes every connection at once; each client then does what the page does when it "+
		"reconnects after a failed start or is reloaded: it waits 250-500 ms (the page's first backoff, half fixed, half random), "+
		"then GET /api/info, GET /api/namespaces (the landing view), GET /api/namespaces/NS/permissions, "+
		"GET /api/namespaces/NS/deployments (the probe of a stream that failed to open), POST /api/tickets, "+
		"and opens the stream with ?ticket= and no Last-Event-ID, so every client needs a full snapshot: the worst case. "+
		"The REST calls share 64 keep-alive connections, at most 64 clients are between their wait and their stream at once. "+
		"A stream serve ends (--max-streams, or told to come back) is opened again, with a new ticket, after the retry serve advised, as EventSource does. "+
		"Serve's API requests: the change of its deploywatch_kube_requests_total over the storm, by verb and resource; "+
		"/readyz is polled every 100 ms during the storm and the window without one (serve asks the API server's /version for it at most once a second). "+
		"API server's requests: apiserver_request_total (every resource and verb, the cluster's own included) minus the benchmark's own read of it. "+
		"At the truth: every client then received one more scale. "+
		"Load generator: the benchmark process's own user+system time over the storm (its 2n connections, REST calls and readers), on the same cores as serve.")
	r.add(sec)
}

// reconnectAsPages brings n clients of namespace ns back as pages do (see
// benchStorm's note) from local address 127.0.0.<ip>, and waits until each
// has its snapshot.
func reconnectAsPages(t testing.TB, s *serveProc, ns string, n int, ip byte) *load {
	t.Helper()
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}
	dialer := &net.Dialer{LocalAddr: local, Timeout: time.Minute}
	api := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}, Timeout: 5 * time.Minute}
	call := func(method, path string, v any) error {
		req, err := http.NewRequest(method, "http://"+s.addr+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := api.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		if v == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	base := "/api/namespaces/" + ns
	// stream trades the token for a ticket and opens the stream with it,
	// as the page does before every connection.
	stream := func() (net.Conn, error) {
		var ticket struct{ Ticket string }
		if err := call(http.MethodPost, "/api/tickets", &ticket); err != nil {
			return nil, err
		}
		conn, err := dialer.Dial("tcp", s.addr)
		if err == nil {
			_, err = conn.Write([]byte("GET " + base + "/deployments/stream?ticket=" + url.QueryEscape(ticket.Ticket) +
				" HTTP/1.0\r\nHost: " + s.addr + "\r\nAccept: text/event-stream\r\n\r\n"))
		}
		return conn, err
	}
	l := &load{n: n, received: make([]atomic.Int64, 2), at: make([][]int64, 2), conns: make([]net.Conn, n), redial: stream}
	for i := range l.at {
		l.at[i] = make([]int64, n)
	}
	sem := make(chan struct{}, 64)
	for i := range n {
		l.wg.Add(1)
		go func() {
			time.Sleep(250*time.Millisecond + rand.N(250*time.Millisecond))
			sem <- struct{}{}
			var conn net.Conn
			err := call(http.MethodGet, "/api/info", nil)
			for _, path := range []string{"/api/namespaces", base + "/permissions", base + "/deployments"} {
				if err == nil {
					err = call(http.MethodGet, path, nil)
				}
			}
			if err == nil {
				conn, err = stream()
			}
			<-sem
			if err != nil {
				l.fail(err)
				l.wg.Done()
				return
			}
			l.connMu.Lock()
			l.conns[i] = conn
			l.connMu.Unlock()
			l.read(i, conn)
		}()
	}
	testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%d clients to get their snapshot (%d so far, %d errors: %v)", n, l.snaps.Load(), l.errs.Load(), l.firstErr.Load()), func() bool {
		return l.snaps.Load()+l.errs.Load() >= int64(n)
	})
	if e := l.errs.Load(); e > 0 {
		t.Fatalf("%d of %d clients failed; the first: %v", e, n, l.firstErr.Load())
	}
	t.Cleanup(l.close)
	t.Cleanup(api.CloseIdleConnections)
	return l
}

// kubeRequests reads serve's deploywatch_kube_requests_total, by "verb
// resource".
func (s *serveProc) kubeRequests(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatalf("serve's /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "deploywatch_kube_requests_total{") {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[strings.IndexByte(line, '{')+1:strings.IndexByte(line, '}')], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		out[labels["verb"]+" "+labels["resource"]] += sumMetric(line, "deploywatch_kube_requests_total")
	}
	return out
}

// requestsBetween is the total of the requests counted between two reads of
// kubeRequests, with each kind, most first.
func requestsBetween(before, after map[string]float64) string {
	var total float64
	var kinds []string
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			total += d
			kinds = append(kinds, k)
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		di, dj := after[kinds[i]]-before[kinds[i]], after[kinds[j]]-before[kinds[j]]
		return di > dj || di == dj && kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%.0f %s", after[k]-before[k], k)
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f (%s)", total, strings.Join(parts, ", "))
}

// probes polls serve's /readyz every 100 ms until stopped.
type probes struct {
	stopc          chan struct{}
	done           chan struct{}
	notReady, sent atomic.Int64
}

func startProbes(s *serveProc) *probes {
	p := &probes{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		client := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-p.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
			p.sent.Add(1)
			resp, err := client.Get("http://" + s.addr + "/readyz")
			if err != nil || resp.StatusCode != http.StatusOK {
				p.notReady.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	return p
}

// stop ends the probes and says how many failed, of how many.
func (p *probes) stop() (notReady, sent int64) {
	close(p.stopc)
	<-p.done
	return p.notReady.Load(), p.sent.Load()
}
