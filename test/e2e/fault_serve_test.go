package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// rawStream opens a namespace's stream on a bare TCP connection, so a test
// can leave it any way a client can: cleanly, or with a reset mid-event.
func rawStream(base, token, ns string) (*net.TCPConn, *bufio.Reader, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	conn := c.(*net.TCPConn)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET /api/namespaces/%s/deployments/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", ns, u.Host, token)
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, nil, fmt.Errorf("status %q: %v", status, err)
	}
	return conn, r, nil
}

// readUntil reads lines until one starts with prefix.
func readUntil(r *bufio.Reader, prefix string) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, prefix) {
			return nil
		}
	}
}

// TestFaultSSEClientChurn connects 1,000 stream clients to serve while a
// Deployment keeps changing, and drops them every way a client can: after
// the snapshot, with a reset before it, and with a reset in the middle of a
// later event. Afterwards serve's goroutines and memory return to where they
// started, no client is left counted, and the namespace's informer has
// stopped.
func TestFaultSSEClientChurn(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	srv := startServe(t, "--linger", "0")
	goroutines0 := srv.metric(t, "go_goroutines")
	heap0 := srv.metric(t, "go_memstats_heap_inuse_bytes")

	stop := make(chan struct{})
	var churned sync.WaitGroup
	churned.Add(1)
	go func() {
		defer churned.Done()
		cs := testbed.Clientset(t)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			s, err := cs.AppsV1().Deployments(ns).GetScale(context.Background(), "web", metav1.GetOptions{})
			if err == nil {
				s.Spec.Replicas = int32(i%3 + 1)
				_, _ = cs.AppsV1().Deployments(ns).UpdateScale(context.Background(), "web", s, metav1.UpdateOptions{})
			}
		}
	}()

	const clients, workers = 1000, 50
	var clean, reset, midEvent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < clients; i += workers {
				conn, r, err := rawStream(srv.base, srv.token, ns)
				if err != nil {
					failed.Add(1)
					t.Errorf("client %d: %v", i, err)
					continue
				}
				switch i % 3 {
				case 0: // reads the snapshot, then hangs up properly
					if err := readUntil(r, "event: snapshot"); err != nil {
						failed.Add(1)
					}
					conn.Close()
					clean.Add(1)
				case 1: // resets the connection at once
					_ = conn.SetLinger(0)
					conn.Close()
					reset.Add(1)
				case 2: // resets in the middle of an event after the snapshot
					if err := readUntil(r, "event: upsert"); err != nil {
						failed.Add(1)
					}
					_, _ = r.Discard(rand.IntN(20))
					_ = conn.SetLinger(0)
					conn.Close()
					midEvent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	churned.Wait()

	testutil.Eventually(t, time.Minute, "serve to count no client and run no informer", func() bool {
		return srv.metric(t, "deploywatch_sse_clients") == 0 && srv.metric(t, "deploywatch_informers_running") == 0
	})
	var goroutines float64
	testutil.Eventually(t, time.Minute, "serve's goroutines to return to where they started", func() bool {
		goroutines = srv.metric(t, "go_goroutines")
		return goroutines <= goroutines0+5
	})
	heap := srv.metric(t, "go_memstats_heap_inuse_bytes")
	if heap > heap0+64<<20 {
		t.Errorf("serve's heap in use went from %.0f MiB to %.0f MiB after 1,000 clients left", heap0/(1<<20), heap/(1<<20))
	}
	if failed.Load() > 0 {
		t.Errorf("%d clients failed to read their stream", failed.Load())
	}
	t.Logf("1,000 clients: %d clean, %d reset at once, %d reset mid-event; goroutines %.0f -> %.0f, heap in use %.1f -> %.1f MiB",
		clean.Load(), reset.Load(), midEvent.Load(), goroutines0, goroutines, heap0/(1<<20), heap/(1<<20))
}

// TestFaultServeSIGTERM sends SIGTERM to serve with 100 streams open: every
// stream gets the reconnect event, the process exits cleanly within
// --shutdown-timeout, and a second serve beside it takes the clients over:
// their Last-Event-ID is from the first one, so each gets a fresh snapshot
// equal to the cluster's state, then the changes that follow.
func TestFaultServeSIGTERM(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createDeployment(t, ns, "api", 2)
	waitRolledOut(t, ns, "web")
	waitRolledOut(t, ns, "api")
	const timeout = 5 * time.Second
	first := startServe(t, "--shutdown-timeout", timeout.String())
	second := startServe(t)

	const streams = 100
	followers := make([]*sseFollower, streams)
	for i := range followers {
		followers[i] = follow(t, first.openStream(t, ns, nil))
	}
	truth := func() map[string]*appsv1.Deployment {
		out := map[string]*appsv1.Deployment{}
		for _, name := range []string{"web", "api"} {
			out[name] = getDeployment(t, ns, name)
		}
		return out
	}
	want := truth()
	testutil.Eventually(t, time.Minute, "every stream's snapshot", func() bool {
		for _, f := range followers {
			if matchesAll(f.view(), want) != "" {
				return false
			}
		}
		return true
	})

	// A write in flight: a PUT whose handler has begun to read its body (the
	// server's 100 Continue says so) when the signal comes.
	put := beginScale(t, first, ns, "api", 3)

	sent := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The first reconnect event means the drain has begun; then the PUT's
	// body arrives, and the write must still complete.
	testutil.Eventually(t, 10*time.Second, "a stream's reconnect event", func() bool {
		for _, f := range followers {
			f.mu.Lock()
			n := f.reconnect
			f.mu.Unlock()
			if n > 0 {
				return true
			}
		}
		return false
	})
	if status, body := put(); status != 200 {
		t.Errorf("a PUT in flight when the drain began: %d %s, want 200", status, body)
	}
	if got := getDeployment(t, ns, "api"); *got.Spec.Replicas != 3 {
		t.Errorf("api has %d replicas after the PUT in flight, want 3", *got.Spec.Replicas)
	}
	select {
	case <-first.exited:
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("serve still runs %s after SIGTERM with --shutdown-timeout %s", timeout+10*time.Second, timeout)
	}
	took := time.Since(sent)
	if first.err != nil {
		t.Errorf("serve exited with %v after SIGTERM, want 0", first.err)
	}
	for i, f := range followers {
		select {
		case <-f.ended:
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %d still open after serve exited", i)
		}
		f.mu.Lock()
		got := f.reconnect
		f.mu.Unlock()
		if got != 1 {
			t.Errorf("stream %d got %d reconnect events, want 1", i, got)
		}
	}
	opsContains(t, "the first serve's log", first.stderr.String(), "shutting down", "stopped")

	waitRolledOut(t, ns, "api")
	want = truth()

	// The clients come back to the second serve with the first one's IDs.
	moved := make([]*sseFollower, streams)
	for i, f := range followers {
		f.mu.Lock()
		last := f.lastID
		f.mu.Unlock()
		moved[i] = follow(t, second.openStream(t, ns, map[string]string{"Last-Event-ID": last}))
	}
	testutil.Eventually(t, time.Minute, "every client to get a snapshot from the second serve", func() bool {
		for _, f := range moved {
			f.mu.Lock()
			n := f.snapshots
			f.mu.Unlock()
			if n != 1 || matchesAll(f.view(), want) != "" {
				return false
			}
		}
		return true
	})
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=3")
	waitRolledOut(t, ns, "web")
	want = truth()
	testutil.Eventually(t, time.Minute, "every client to see the scale through the second serve", func() bool {
		for _, f := range moved {
			if matchesAll(f.view(), want) != "" {
				return false
			}
		}
		return true
	})
	t.Logf("SIGTERM with %d streams and a PUT in flight: the PUT completed, exited in %s (--shutdown-timeout %s); %d reconnect events; all %d clients resumed on the second serve with a snapshot",
		streams, took.Round(time.Millisecond), timeout, streams, streams)
}

// beginScale starts PUT .../deployments/NAME/scale on a raw connection and
// returns once serve's handler is reading the body (it answered 100
// Continue); the returned func sends the body and reads the answer.
func beginScale(t *testing.T, p *serveProc, ns, name string, replicas int) func() (int, string) {
	t.Helper()
	u, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	body := fmt.Sprintf(`{"replicas": %d}`, replicas)
	fmt.Fprintf(conn, "PUT /api/namespaces/%s/deployments/%s/scale HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", ns, name, u.Host, p.token, len(body))
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 100 ") {
		t.Fatalf("PUT scale with Expect: 100-continue: status %q, %v; want 100 Continue", status, err)
	}
	if err := readUntil(r, "\r\n"); err != nil { // the blank line after 100 Continue
		t.Fatal(err)
	}
	return func() (int, string) {
		t.Helper()
		if _, err := io.WriteString(conn, body); err != nil {
			t.Fatalf("send the PUT's body: %v", err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("read the PUT's answer: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// TestFaultServeReadinessFailsFirst: with --shutdown-delay, serve on SIGTERM
// answers /readyz with 503 while it still listens, so a load balancer's
// health check sees it going before connections are refused; an open stream
// then gets its reconnect event and the process exits 0 within
// --shutdown-timeout.
func TestFaultServeReadinessFailsFirst(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t, "--shutdown-delay", "2s", "--shutdown-timeout", "6s")
	f := follow(t, p.openStream(t, ns, nil))
	testutil.Eventually(t, time.Minute, "the stream's snapshot", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.snapshots == 1
	})
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	ready := func() (int, error) {
		resp, err := probe.Get(p.base + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := ready(); code != 200 {
		t.Fatalf("readyz before SIGTERM: %d %v", code, err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for {
		code, err := ready()
		if err != nil {
			answers = append(answers, "refused")
			break
		}
		if len(answers) == 0 || answers[len(answers)-1] != fmt.Sprint(code) {
			answers = append(answers, fmt.Sprint(code))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// 200 may still answer in the instant before the signal is handled.
	if i := slices.Index(answers, "503"); i < 0 || slices.Contains(answers[i:], "200") || answers[len(answers)-1] != "refused" {
		t.Errorf("readyz answered %v after SIGTERM; want 503 until the listener closes", answers)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit within 20s of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("serve exited with %v, want 0", p.err)
	}
	<-f.ended
	if f.reconnect != 1 {
		t.Errorf("the open stream got %d reconnect events, want 1", f.reconnect)
	}
	t.Logf("readyz after SIGTERM: %v", answers)
}
