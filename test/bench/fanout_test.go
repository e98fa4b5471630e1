package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// serveProc is a running `kubectl deploywatch serve` on a free port.
type serveProc struct {
	*proc
	addr  string // 127.0.0.1:PORT
	token string // every API request needs it
}

var servingLine = regexp.MustCompile(`Serving Deployments on http://([^/\s]+)/#token=(\S+)`)

func startServe(t testing.TB, args ...string) *serveProc {
	t.Helper()
	return startServeOn(t, testbed.Shared(), args...)
}

// startServeOn is startServe on cluster c.
func startServeOn(t testing.TB, c *testbed.Cluster, args ...string) *serveProc {
	t.Helper()
	addr := make(chan [2]string, 1)
	cmd := c.KubectlCmd(context.Background(), append([]string{"deploywatch", "serve", "--address", "127.0.0.1:0"}, args...)...)
	if pprofAddr != "" {
		// The same serve with pprof on pprofAddr (see ./pprofserve).
		cmd.Path = buildPprofServe(t)
		cmd.Args = append([]string{cmd.Path}, cmd.Args[2:]...)
		cmd.Env = append(cmd.Env, "DEPLOYWATCH_PPROF="+pprofAddr)
	}
	p := startLines(t, "serve", cmd, func(line []byte, _ time.Time) {
		if m := servingLine.FindSubmatch(line); m != nil {
			token, _ := url.QueryUnescape(string(m[2]))
			addr <- [2]string{string(m[1]), token}
		}
	})
	select {
	case a := <-addr:
		return &serveProc{proc: p, addr: a[0], token: a[1]}
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve printed no URL; stderr:\n%s", p.stderr.String())
		return nil
	}
}

// get requests path from serve with its token.
func (s *serveProc) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

// metricLines are the lines of serve's /metrics, or none.
func (s *serveProc) metricLines() []string {
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Split(string(b), "\n")
}

// metric reads an unlabelled sample from serve's /metrics.
func (s *serveProc) metric(name string) float64 {
	for _, line := range s.metricLines() {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return -1
}

// metricSum adds up every sample of name in serve's /metrics, whatever its
// labels.
func (s *serveProc) metricSum(name string) float64 {
	sum := 0.0
	for _, line := range s.metricLines() {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) > 0 {
			v, _ := strconv.ParseFloat(fields[0], 64)
			sum += v
		}
	}
	return sum
}

// load is many SSE clients of one namespace's stream, each a goroutine on a
// bare connection with a small buffer, so that 10,000 fit in one process.
// They all look for the same change: an upsert whose desired replicas are
// want, after the harness bumped round.
type load struct {
	n        int
	round    atomic.Int64 // the change being looked for, from 1
	want     atomic.Int32 // its desired replicas
	received []atomic.Int64
	at       [][]int64 // at[round][client]: when the client got it, UnixNano
	snaps    atomic.Int64
	conns    []net.Conn
	stalled  *testutil.StalledConn
	wg       sync.WaitGroup
	errs     atomic.Int64
	ended    atomic.Int64 // streams the server ended
	closing  atomic.Bool
	firstErr atomic.Value
	// redial, when set, opens a stream again; a client whose stream serve
	// ends then comes back after the retry serve advised, as EventSource does.
	redial  func() (net.Conn, error)
	redials atomic.Int64
	connMu  sync.Mutex // guards conns once streams are redialled
}

// connect opens n streams (plus one that can stall, with stall) from local
// address 127.0.0.<ip> (every address has its own ephemeral ports, so runs
// one after the other do not run out).
func connect(t testing.TB, s *serveProc, ns string, n, rounds int, ip byte, stall bool) *load {
	return connectLoad(t, s, ns, n, rounds, ip, stall, false)
}

// connectLoad is connect, with clients that reconnect when serve ends their
// stream if redial.
func connectLoad(t testing.TB, s *serveProc, ns string, n, rounds int, ip byte, stall, redial bool) *load {
	t.Helper()
	addr := s.addr
	l := &load{n: n, received: make([]atomic.Int64, rounds+1), at: make([][]int64, rounds+1), conns: make([]net.Conn, n)}
	for i := range l.at {
		l.at[i] = make([]int64, n)
	}
	req := []byte("GET /api/namespaces/" + ns + "/deployments/stream HTTP/1.0\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + s.token + "\r\n\r\n")
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}
	if redial {
		l.redial = func() (net.Conn, error) {
			d := net.Dialer{LocalAddr: local, Timeout: time.Minute}
			conn, err := d.Dial("tcp", addr)
			if err == nil {
				_, err = conn.Write(req)
			}
			return conn, err
		}
	}
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{LocalAddr: local, Timeout: time.Minute}
			conn, err := d.Dial("tcp", addr)
			if err == nil {
				_, err = conn.Write(req)
			}
			if err != nil {
				l.fail(err)
				return
			}
			l.connMu.Lock()
			l.conns[i] = conn
			l.connMu.Unlock()
			l.wg.Add(1)
			go l.read(i, conn)
		}()
	}
	wg.Wait()
	if stall {
		d := net.Dialer{LocalAddr: local, Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the stalling client: %v", err)
		}
		_, _ = conn.Write(req)
		l.stalled = testutil.NewStalledConn(conn)
		l.wg.Add(1)
		go l.read(-1, l.stalled)
	}
	want := int64(n)
	if stall {
		want++
	}
	testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%d clients to get their snapshot (%d so far, %d errors: %v)", want, l.snaps.Load(), l.errs.Load(), l.firstErr.Load()), func() bool {
		return l.snaps.Load()+l.errs.Load() >= want
	})
	if e := l.errs.Load(); e > 0 {
		t.Fatalf("%d of %d clients failed; the first: %v", e, n, l.firstErr.Load())
	}
	t.Cleanup(l.close)
	return l
}

func (l *load) fail(err error) {
	l.firstErr.CompareAndSwap(nil, err.Error())
	l.errs.Add(1)
}

// read follows one stream, and with redial the ones that replace it.
func (l *load) read(i int, conn net.Conn) {
	defer l.wg.Done()
	var done int64 // last round recorded
	for {
		retry, ended := l.follow(i, conn, &done)
		if !ended || l.redial == nil || l.closing.Load() {
			return
		}
		l.redials.Add(1)
		time.Sleep(retry) // the client's own wait, as serve advised
		c, err := l.redial()
		if err != nil {
			l.fail(err)
			return
		}
		l.connMu.Lock()
		if l.closing.Load() {
			c.Close()
		} else if i >= 0 {
			l.conns[i] = c
		}
		l.connMu.Unlock()
		conn = c
	}
}

// follow reads one stream: it counts the snapshot and stamps, for each
// round, the first upsert with the wanted replicas. It reports whether
// serve ended the stream, and the retry delay serve advised.
func (l *load) follow(i int, conn net.Conn, done *int64) (retry time.Duration, ended bool) {
	br := bufio.NewReaderSize(conn, 2048)
	// The status line and headers; HTTP/1.0 gets the body unchunked.
	status, err := br.ReadSlice('\n')
	if err != nil || !bytes.Contains(status, []byte(" 200 ")) {
		l.fail(fmt.Errorf("status %q: %v", status, err))
		return 0, false
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			l.fail(err)
			return 0, false
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	var event []byte
	for {
		line, err := br.ReadSlice('\n')
		full := err == bufio.ErrBufferFull // a long line: look at its start, skip the rest
		if err != nil && !full {
			conn.Close()
			if l.closing.Load() {
				return retry, false
			}
			l.ended.Add(1)
			return retry, true
		}
		switch {
		case bytes.HasPrefix(line, []byte("retry: ")):
			if ms, err := strconv.Atoi(string(bytes.TrimSpace(line[7:]))); err == nil {
				retry = time.Duration(ms) * time.Millisecond
			}
		case bytes.HasPrefix(line, []byte("event: ")):
			event = append(event[:0], bytes.TrimSpace(line[7:])...)
			if string(event) == "snapshot" {
				l.snaps.Add(1)
			}
		case bytes.HasPrefix(line, []byte("data: ")) && string(event) == "upsert" && i >= 0:
			// "desired" comes early in an event's JSON, within the buffer.
			round := l.round.Load()
			if round > *done && bytes.Contains(line, []byte(`"desired":`+strconv.Itoa(int(l.want.Load()))+`,`)) {
				l.at[round][i] = time.Now().UnixNano()
				*done = round
				l.received[round].Add(1)
			}
		}
		for full {
			_, err = br.ReadSlice('\n')
			full = err == bufio.ErrBufferFull
		}
	}
}

func (l *load) close() {
	l.closing.Store(true)
	l.connMu.Lock()
	for _, c := range l.conns {
		if c != nil {
			c.Close()
		}
	}
	l.connMu.Unlock()
	if l.stalled != nil {
		l.stalled.Resume()
		l.stalled.Close()
	}
	l.wg.Wait()
}

// change scales the Deployment for round r and returns, per client, the
// time from the write's return to the client's receipt.
func (l *load) change(t testing.TB, ns, name string, r int) []time.Duration {
	t.Helper()
	cs := testbed.Shared().Clientset(t)
	replicas := int32(1) // the Deployment starts at 1: odd rounds set 2, even ones 1
	if r%2 == 1 {
		replicas = 2
	}
	l.want.Store(replicas)
	l.round.Store(int64(r))
	scale(t, cs, ns, name, replicas)
	wrote := time.Now().UnixNano()
	testutil.Eventually(t, 2*time.Minute, fmt.Sprintf("all %d clients to see change %d (%d did)", l.n, r, l.received[r].Load()), func() bool {
		return l.received[r].Load() >= int64(l.n)
	})
	out := make([]time.Duration, l.n)
	for i, at := range l.at[r] {
		out[i] = time.Duration(at - wrote)
	}
	return out
}

// fanoutNamespace makes a namespace holding the Deployment name (1 replica
// that cannot be scheduled, the one the rounds scale) and size-1 more at 0
// replicas, so that a snapshot holds size events.
func fanoutNamespace(t *testing.T, name string, size int) string {
	c := testbed.Shared()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	createDeployment(t, cs, ns, testutil.Deployment(name, testutil.Replicas(1), testutil.PodSpec(unschedulable)))
	for i := 1; i < size; i++ {
		createDeployment(t, cs, ns, testutil.Deployment(fmt.Sprintf("other-%03d", i), testutil.Replicas(0)))
	}
	waitSettled(t, cs, ns, name, false)
	return ns
}

// benchSizes reads a list of numbers from the environment variable env, or
// returns def.
func benchSizes(t *testing.T, env string, def []int) []int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s=%q: want numbers separated by commas", env, v)
		}
		out = append(out, n)
	}
	return out
}

// sentMetric counts the events serve wrote to its streams, by name.
const sentMetric = "deploywatch_sse_events_sent_total"

// benchFanout: serve with many clients on one namespace, of 1 Deployment and
// of 300.
func benchFanout(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	const name = "fan"
	rounds := pick(20, 10)
	sec := section{
		title: fmt.Sprintf("3. Fan-out: serve with N SSE clients on one namespace of D Deployments (%d scales each)", rounds),
		head: []string{"D", "clients", "p50 write-to-receive", "p99", "serve RSS", "of which Go heap, stacks", "serve CPU while connecting", "serve CPU per change",
			"per client and change", "events sent per client and change", "per client and event", "load generator CPU over the scales",
			"Deployment watches on the API server", "streams serve ended"},
	}
	baseline := deploymentWatches(t, cs)
	// e.g. BENCH_CLIENTS=10000 BENCH_DEPLOYMENTS=300 to profile one case.
	sizes := benchSizes(t, "BENCH_CLIENTS", pick([]int{1000, 5000, 10000}, []int{200, 1000}))
	deployments := benchSizes(t, "BENCH_DEPLOYMENTS", []int{1, 300})
	ip := byte(10 + os.Getpid()%20) // another run's sockets may still be in TIME_WAIT
	for _, d := range deployments {
		ns := fanoutNamespace(t, name, d)
		for _, n := range sizes {
			ip++
			t.Run(fmt.Sprintf("%d-deployments/%d", d, n), func(t *testing.T) {
				s := startServe(t)
				cpu0 := cpuTime(s.pid())
				t0 := time.Now()
				l := connect(t, s, ns, n, rounds, ip, false)
				connectTook := time.Since(t0)
				cpu1 := cpuTime(s.pid())
				time.Sleep(500 * time.Millisecond)
				var all []time.Duration
				cpu2, self2 := cpuTime(s.pid()), cpuTime(os.Getpid())
				sent2 := s.metricSum(sentMetric)
				stopProfile := profile(t, fmt.Sprintf("fanout-%d-%d", d, n))
				for i := 1; i <= rounds; i++ {
					all = append(all, l.change(t, ns, name, i)...)
					time.Sleep(200 * time.Millisecond)
				}
				cpu3, self3 := cpuTime(s.pid()), cpuTime(os.Getpid())
				sent := s.metricSum(sentMetric) - sent2
				stopProfile()
				rss := procStatus(s.pid(), "VmRSS")
				hwm := procStatus(s.pid(), "VmHWM")
				heap, stacks := s.metric("go_memstats_heap_inuse_bytes"), s.metric("go_memstats_stack_inuse_bytes")
				// The rest of RSS, for the log: heap kept for reuse, the GC's goal, goroutines.
				t.Logf("serve: heap idle %.0f MB (released %.0f MB), next GC at %.0f MB, %.0f goroutines",
					s.metric("go_memstats_heap_idle_bytes")/1e6, s.metric("go_memstats_heap_released_bytes")/1e6,
					s.metric("go_memstats_next_gc_bytes")/1e6, s.metric("go_goroutines"))
				watches := deploymentWatches(t, cs) - baseline
				perChange := float64(cpu3-cpu2) / float64(rounds)
				sec.rows = append(sec.rows, []string{
					strconv.Itoa(d), strconv.Itoa(n), ms(percentile(all, 50)), ms(percentile(all, 99)),
					fmt.Sprintf("%s (peak %s)", mb(rss), mb(hwm)),
					fmt.Sprintf("%.0f MB, %.0f MB", heap/1e6, stacks/1e6),
					fmt.Sprintf("%.1f s in %.1f s", (cpu1 - cpu0).Seconds(), connectTook.Seconds()),
					fmt.Sprintf("%.0f ms", perChange/float64(time.Millisecond)),
					fmt.Sprintf("%.1f µs", perChange/float64(time.Microsecond)/float64(n)),
					fmt.Sprintf("%.1f", sent/float64(rounds)/float64(n)),
					fmt.Sprintf("%.1f µs", float64(cpu3-cpu2)/float64(time.Microsecond)/sent),
					fmt.Sprintf("%.1f s (serve %.1f s)", (self3 - self2).Seconds(), (cpu3 - cpu2).Seconds()),
					strconv.Itoa(watches), strconv.FormatInt(l.ended.Load(), 10),
				})
			})
		}
	}
	sec.notes = append(sec.notes, "Clients are goroutines of the benchmark process on bare HTTP/1.0 connections, on the same 2 cores as serve and the API server. "+
		"CPU is serve's user+system time from /proc (10 ms ticks); per client and change is serve's CPU per change divided by the clients. "+
		"A scale makes several events (the Deployment's status moves in steps): events sent is the growth of "+sentMetric+" over the scales, "+
		"and per client and event is serve's CPU over them divided by it. "+
		"The D-1 other Deployments have 0 replicas: they make the snapshot D events long and never change. "+
		"The load generator is the benchmark process itself (its clients' readers and the scales), on the same cores: its user+system time over the scales is shown beside serve's. "+
		"Go heap and stacks: serve's go_memstats_heap_inuse_bytes and go_memstats_stack_inuse_bytes after the scales. "+
		"Watches: apiserver_longrunning_requests{resource=\"deployments\",verb=\"WATCH\"} minus its value before serve started. "+
		"Target at 10,000 clients: p99 under 250 ms, RSS under 300 MB, 1 watch, under 10 µs per client and event.")
	r.add(sec)
}

// benchStalled: one client of 1,000 stops reading; the others' latency and
// serve's memory while it is stalled.
func benchStalled(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	const name = "stall"
	// Eight containers with long image names make each event about 2 KB, so
	// a client that stops reading really backs up.
	createDeployment(t, cs, ns, testutil.Deployment(name, testutil.Replicas(1), testutil.PodSpec(func(spec *corev1.PodSpec) {
		unschedulable(spec)
		spec.Containers = nil
		for i := range 8 {
			spec.Containers = append(spec.Containers, corev1.Container{
				Name:  fmt.Sprintf("c%d", i),
				Image: fmt.Sprintf("registry.example.com/%s/component-%d:v1.2.3", strings.Repeat("long-path-segment/", 9), i),
			})
		}
	})))
	waitSettled(t, cs, ns, name, false)
	const n = 1000
	rounds := pick(30, 15)
	s := startServe(t)
	l := connect(t, s, ns, n, 2*rounds, 20, true)
	time.Sleep(500 * time.Millisecond)

	var before, during []time.Duration
	for i := 1; i <= rounds; i++ {
		before = append(before, l.change(t, ns, name, i)...)
		time.Sleep(200 * time.Millisecond)
	}
	rssBefore := procStatus(s.pid(), "VmRSS")
	l.stalled.Stall()
	// A burst the stalled client cannot take: more than its kernel buffers
	// and its queue in serve hold, so serve has to coalesce for it.
	burst := pick(400, 300)
	for i := range burst {
		scale(t, cs, ns, name, int32(3+i%2))
	}
	time.Sleep(2 * time.Second)
	var rss []int64
	for i := rounds + 1; i <= 2*rounds; i++ {
		during = append(during, l.change(t, ns, name, i)...)
		rss = append(rss, procStatus(s.pid(), "VmRSS"))
		time.Sleep(200 * time.Millisecond)
	}
	coalesced := s.metric("deploywatch_sse_events_coalesced_total")
	clients := s.metric("deploywatch_sse_clients")
	p99b, p99d := percentile(before, 99), percentile(during, 99)
	lo, hi := rss[0], rss[0]
	for _, v := range rss {
		lo, hi = min(lo, v), max(hi, v)
	}
	r.add(section{
		title: fmt.Sprintf("4. A stalled client among %d (%d scales before it stalls, %d while)", n, rounds, rounds),
		head:  []string{"", "p50", "p99", "serve RSS"},
		rows: [][]string{
			{"all reading", ms(percentile(before, 50)), ms(p99b), mb(rssBefore)},
			{"one stalled", ms(percentile(during, 50)), ms(p99d), fmt.Sprintf("%s to %s after the burst", mb(lo), mb(hi))},
			{"change", "", fmt.Sprintf("%+.0f%%", 100*(float64(p99d)/float64(p99b)-1)), fmt.Sprintf("%+.1f MB over the stall after the burst (%+.1f MB with the burst)", float64(hi-lo)/1024, float64(hi-rssBefore)/1024)},
		},
		notes: []string{fmt.Sprintf("The client stalls, then a burst of %d scales (unmeasured) backs it up; the stalled rows are the scales after the burst. "+
			"While stalled, serve still counted %.0f clients and had coalesced %.0f events for the stalled one (0 would mean it never backed up). "+
			"Events are about 2 KB (8 containers). Target: others' p99 changes by less than 10%%, memory flat.", burst, clients, coalesced)},
	})
}
