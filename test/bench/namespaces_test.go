package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// watchedResources are what serve's trackers watch, in the report's order.
var watchedResources = []string{"deployments", "replicasets", "pods", "events", "namespaces"}

// benchNamespaces: serve viewed in many namespaces, one SSE client each,
// with a watch per viewed namespace (--watch-scope=namespace, the only way
// before issue 19) and with one cluster-wide watch (--watch-scope=cluster);
// and the case against cluster-wide: one viewer of one namespace in a
// cluster of many.
func benchNamespaces(t *testing.T, r *report) {
	// e.g. BENCH_NAMESPACES=1000 for one size.
	sizes := benchSizes(t, "BENCH_NAMESPACES", pick([]int{100, 1000}, []int{20, 100}))
	const perNS = 3
	c := testbed.Start(t) // its own cluster: a thousand namespaces would weigh on the shared one
	config := c.RESTConfig()
	config.QPS, config.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	names := makeNamespaces(t, cs, sizes[len(sizes)-1], perNS)
	made := time.Since(t0)
	baseline := watchCounts(t, cs)

	sec := section{
		title: fmt.Sprintf("Namespaces: serve viewed in N namespaces of %d Deployments each, one SSE client per namespace", perNS),
		head: []string{"watch scope", "namespaces viewed", "of", "time to all first snapshots", "streams told to come back later", "serve RSS (peak)",
			"watches on the API server (deployments, replicasets, pods, events, namespaces)", "LIST requests", "serve CPU"},
	}
	ip := byte(100)
	measure := func(t *testing.T, scope string, viewed []string, of int) {
		ip++
		// The last run's watches have ended: its serve is gone.
		testutil.Eventually(t, time.Minute, "the API server's watches to fall back to the baseline", func() bool {
			return sumCounts(watchCounts(t, cs)) <= sumCounts(baseline)
		})
		s := startServeOn(t, c, "--watch-scope", scope)
		lists0 := sumMetric(apiMetrics(t, cs), "apiserver_request_total", `verb="LIST"`)
		cpu0 := cpuTime(s.pid())
		took, retried, closeAll := viewEach(t, s, viewed, ip)
		cpu1 := cpuTime(s.pid())
		lists := sumMetric(apiMetrics(t, cs), "apiserver_request_total", `verb="LIST"`) - lists0
		rss, hwm := procStatus(s.pid(), "VmRSS"), procStatus(s.pid(), "VmHWM")
		w := watchCounts(t, cs)
		var ws []string
		for i := range watchedResources {
			ws = append(ws, strconv.Itoa(w[i]-baseline[i]))
		}
		sec.rows = append(sec.rows, []string{scope, strconv.Itoa(len(viewed)), strconv.Itoa(of), ms(took), strconv.FormatInt(retried, 10),
			fmt.Sprintf("%s (%s)", mb(rss), mb(hwm)), strings.Join(ws, ", "), fmt.Sprintf("%.0f", lists),
			fmt.Sprintf("%.1f s", (cpu1 - cpu0).Seconds())})
		closeAll()
		s.stop()
	}
	for _, n := range sizes {
		for _, scope := range []string{"namespace", "cluster"} {
			t.Run(fmt.Sprintf("%s/%d", scope, n), func(t *testing.T) { measure(t, scope, names[:n], len(names)) })
		}
	}
	for _, scope := range []string{"namespace", "cluster"} {
		t.Run(scope+"/one", func(t *testing.T) { measure(t, scope, names[:1], len(names)) })
	}
	sec.notes = append(sec.notes, fmt.Sprintf("A test-bed cluster of the section's own with %d namespaces of %d Deployments each (0 replicas, so no pods), made in %v. "+
		"Each row is a fresh serve; the clients (goroutines of the benchmark on bare HTTP/1.0 connections, 64 connecting at a time) all start at once, and the time is until the last one has read its snapshot. "+
		"A client that serve tells to come back later (a reconnect event with a retry delay: its namespace could not be checked in time) comes back after that delay, as EventSource does, and the time includes it. "+
		"Watches: apiserver_longrunning_requests{verb=\"WATCH\"} per resource, less the cluster's own before serve started. "+
		"LIST requests: apiserver_request_total{verb=\"LIST\"} during the connect, every client of the cluster included (the controllers make a few). "+
		"RSS and CPU are serve's, after the last snapshot.", len(names), perNS, made.Round(time.Second)))
	r.add(sec)
}

// makeNamespaces creates n namespaces of perNS Deployments each.
func makeNamespaces(t *testing.T, cs kubernetes.Interface, n, perNS int) []string {
	ctx := context.Background()
	names := make([]string, n)
	inParallel(t, 8, 0, n, "namespaces", func(i int) error {
		ns := fmt.Sprintf("team-%04d", i)
		names[i] = ns
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		for j := 0; err == nil && j < perNS; j++ {
			_, err = cs.AppsV1().Deployments(ns).Create(ctx, testutil.Deployment(fmt.Sprintf("app-%d", j), testutil.Replicas(0)), metav1.CreateOptions{})
		}
		return err
	})
	return names
}

// watchCounts is the API server's open watches of each watchedResources.
func watchCounts(t testing.TB, cs kubernetes.Interface) []int {
	text := apiMetrics(t, cs)
	out := make([]int, len(watchedResources))
	for i, res := range watchedResources {
		out[i] = int(sumMetric(text, "apiserver_longrunning_requests", `resource="`+res+`"`, `verb="WATCH"`))
	}
	return out
}

func sumCounts(c []int) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// viewEach opens one stream per namespace, all at once, and returns how
// long until every one had its snapshot, and how many times a client was
// told to come back later and did, after the delay serve advised (as
// EventSource does). The streams stay open, read, until closeAll.
func viewEach(t *testing.T, s *serveProc, namespaces []string, ip byte) (took time.Duration, retried int64, closeAll func()) {
	t.Helper()
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}
	var snaps, errs, retries atomic.Int64
	var firstErr atomic.Value
	var closing atomic.Bool
	var mu sync.Mutex
	var conns []net.Conn
	var readers sync.WaitGroup
	sem := make(chan struct{}, 64)
	dial := func(ns string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: local, Timeout: time.Minute}
		conn, err := d.Dial("tcp", s.addr)
		if err == nil {
			_, err = conn.Write([]byte("GET /api/namespaces/" + ns + "/deployments/stream HTTP/1.0\r\nHost: " + s.addr +
				"\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + s.token + "\r\n\r\n"))
		}
		if err == nil {
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
		return conn, err
	}
	// follow reads a stream; it returns the retry serve advised when serve
	// ended it before the snapshot.
	follow := func(conn net.Conn) (retry time.Duration, again bool, err error) {
		br := bufio.NewReaderSize(conn, 4096)
		status, err := br.ReadSlice('\n')
		if err != nil || !bytes.Contains(status, []byte(" 200 ")) {
			return 0, false, fmt.Errorf("status %q: %v", status, err)
		}
		seen := false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				if seen || closing.Load() {
					return 0, false, nil
				}
				return retry, retry > 0, fmt.Errorf("the stream ended before its snapshot: %v", err)
			}
			if ms, ok := bytes.CutPrefix(line, []byte("retry: ")); ok {
				n, _ := strconv.Atoi(string(bytes.TrimSpace(ms)))
				retry = time.Duration(n) * time.Millisecond
			}
			if !seen && bytes.Equal(bytes.TrimSpace(line), []byte("event: snapshot")) {
				seen = true
				snaps.Add(1)
			}
		}
	}
	start := time.Now()
	for _, ns := range namespaces {
		sem <- struct{}{}
		readers.Add(1)
		go func() {
			defer readers.Done()
			released := false
			release := func() {
				if !released {
					released = true
					<-sem
				}
			}
			defer release()
			for {
				conn, err := dial(ns)
				release() // connected: the next may dial
				if err == nil {
					var retry time.Duration
					var again bool
					if retry, again, err = follow(conn); again && !closing.Load() {
						retries.Add(1)
						time.Sleep(retry)
						continue
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, ns+": "+err.Error())
					errs.Add(1)
				}
				return
			}
		}()
	}
	var lastAt time.Time
	testutil.Eventually(t, 10*time.Minute, fmt.Sprintf("%d snapshots", len(namespaces)), func() bool {
		lastAt = time.Now()
		return snaps.Load()+errs.Load() >= int64(len(namespaces))
	})
	if e := errs.Load(); e > 0 {
		log := s.stderr.String()
		t.Fatalf("%d of %d streams failed; the first: %v; serve's log ends:\n%s", e, len(namespaces), firstErr.Load(), log[max(0, len(log)-4000):])
	}
	return lastAt.Sub(start), retries.Load(), func() {
		closing.Store(true)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		readers.Wait()
	}
}
