package server

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

func TestShutdownSendsReconnect(t *testing.T) {
	base, cancel, served := serving(t, namespaceObj("shop"), newDeployment("shop", "web", 1))

	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz before shutdown: %v %v", resp, err)
	}
	_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
	first, err := s.next()
	if err != nil || first.event != "snapshot" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	cancel()
	ev, err := s.next()
	if err != nil || ev.event != "reconnect" || ev.id != first.id {
		t.Fatalf("after shutdown got %+v, %v; want a reconnect event with the last id %s", ev, err, first.id)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream not closed after the reconnect event: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(base + "/readyz"); err == nil {
		t.Fatalf("still answering after shutdown")
	}
}

// TestShutdownDelayFailsReadinessFirst: with a ShutdownDelay, /readyz
// answers 503 and new streams are refused while open streams still get
// events, and only then does the listener close.
func TestShutdownDelayFailsReadinessFirst(t *testing.T) {
	client := newClient(namespaceObj("shop"), newDeployment("shop", "web", 1))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ln.Addr(), ShutdownDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	const timeout = 2 * time.Second // cuts the hour-long delay to half of it
	go func() { served <- srv.Serve(ctx, ln, timeout) }()
	base := "http://" + ln.Addr().String()
	_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
	if first, err := s.next(); err != nil || first.event != "snapshot" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	cancel()
	client503 := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(time.Second)
	var saw int
	for saw == 0 && time.Now().Before(deadline) {
		resp, err := client503.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("readyz during the delay: %v; want 503 while the listener is open", err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			saw = resp.StatusCode
		}
		resp.Body.Close()
	}
	if saw != http.StatusServiceUnavailable {
		t.Fatal("readyz never failed during the shutdown delay")
	}
	// A new stream during the delay is told to come back, in a way every
	// EventSource follows: 200, a retry delay, a reconnect event, the end.
	_, late := openStream(t, base+"/api/namespaces/shop/deployments/stream", map[string]string{"Connection": "close"})
	if ev, err := late.next(); err != nil || ev.event != "reconnect" || late.retry == "" || !strings.Contains(ev.data, `"shutdown"`) {
		t.Fatalf("a new stream during the delay got %+v (retry %q), %v; want a reconnect event with a retry delay", ev, late.retry, err)
	}
	if ev, err := late.next(); err != io.EOF {
		t.Fatalf("after the reconnect event got %+v, %v; want the end of the stream", ev, err)
	}
	// The open stream is told to reconnect once the delay (cut to half the
	// timeout) ends and the listener closes.
	if ev, err := s.next(); err != nil || ev.event != "reconnect" {
		t.Fatalf("after the delay got %+v, %v; want reconnect", ev, err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestShutdownSpreadsTheRetry: streams told to reconnect at shutdown each
// get a retry delay of their own, from Retry to twice that, so that
// EventSource clients, which all got the same one when they connected, do
// not all come back at the same instant.
func TestShutdownSpreadsTheRetry(t *testing.T) {
	base, cancel, served := serving(t, namespaceObj("shop"), newDeployment("shop", "web", 1))
	const streams = 20
	var all []*sse
	for range streams {
		_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
		if ev, err := s.next(); err != nil || ev.event != "snapshot" || s.retry != "2000" {
			t.Fatalf("first event %+v (retry %q), %v", ev, s.retry, err)
		}
		all = append(all, s)
	}
	cancel()
	seen := map[string]bool{}
	for i, s := range all {
		ev, err := s.next()
		if err != nil || ev.event != "reconnect" {
			t.Fatalf("stream %d after shutdown: %+v, %v", i, ev, err)
		}
		ms, err := strconv.Atoi(s.retry)
		if err != nil || ms < 2000 || ms > 4000 {
			t.Errorf("stream %d: retry %q with its reconnect event, want 2000 to 4000", i, s.retry)
		}
		seen[s.retry] = true
	}
	// 20 draws from 2,001 values: all alike once in 10^62 runs.
	if len(seen) < 2 {
		t.Errorf("every stream got retry %v", seen)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// servingWith serves on a real listener with opts (Client, Hub, Token and
// Addr filled in) and returns its base URL.
func servingWith(t *testing.T, opts Options) string {
	t.Helper()
	client := newClient(namespaceObj("shop"), newDeployment("shop", "web", 1))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	t.Cleanup(h.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Client, opts.Hub, opts.Token, opts.Addr = client, h, testToken, ln.Addr()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done }) //nolint:errcheck // Serve's error after cancel says only that it stopped
	return "http://" + ln.Addr().String()
}

// pipelineUnread opens a connection with a small receive buffer, sends n
// requests for the page's script at once and never reads the answers.
func pipelineUnread(t *testing.T, base string, n int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	host := strings.TrimPrefix(base, "http://")
	req := "GET /app.js HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if _, err := conn.Write([]byte(strings.Repeat(req, n))); err != nil {
		t.Fatal(err)
	}
	return conn
}

// fresh sends one request on a new connection.
func fresh(t *testing.T, method, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnectionsCappedProbesAnswer: clients that pipeline requests and
// never read hold no more than MaxConns connections; beyond, the probes
// still answer and the rest is told to retry; every response has a write
// deadline, so the non-readers lose their connections and their places
// come back.
func TestConnectionsCappedProbesAnswer(t *testing.T) {
	const maxConns = 3
	base := servingWith(t, Options{MaxConns: maxConns, WriteTimeout: 500 * time.Millisecond})
	var holders []net.Conn
	for range maxConns {
		holders = append(holders, pipelineUnread(t, base, 500))
	}
	// The holders are counted once the server accepted them: a request on
	// a connection of its own is then beyond the cap.
	testutil.Eventually(t, 10*time.Second, "a request beyond the cap to be refused", func() bool {
		status, _ := fresh(t, "GET", base+"/api/info", nil)
		return status == http.StatusServiceUnavailable
	})
	status, body := fresh(t, "GET", base+"/api/info", nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "TooManyConnections") {
		t.Fatalf("GET /api/info beyond the cap: %d %s, want 503 TooManyConnections", status, body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := fresh(t, "GET", base+path, nil); status != http.StatusOK {
			t.Fatalf("GET %s beyond the cap: %d %s, want 200", path, status, body)
		}
	}
	// Beyond the cap a connection serves one request: pipelining there
	// holds no place.
	spare, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	_ = spare.SetDeadline(time.Now().Add(5 * time.Second))
	probe := "GET /healthz HTTP/1.1\r\nHost: " + strings.TrimPrefix(base, "http://") + "\r\n\r\n"
	if _, err := spare.Write([]byte(probe + probe)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(spare)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil || resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("a probe beyond the cap: %v %v; want 200 and the connection closed", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if _, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet}); err == nil {
		t.Fatalf("a second request answered on a connection beyond the cap")
	}
	// The non-readers' writes pass their deadline: their places come back.
	testutil.Eventually(t, 10*time.Second, "the non-readers' connections to be closed", func() bool {
		status, _ := fresh(t, "GET", base+"/api/info", nil)
		return status == http.StatusOK
	})
	for i, c := range holders {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var ne net.Error
		if _, err := io.Copy(io.Discard, c); errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("non-reader %d: %v; want its connection closed by the server", i, err)
		}
	}
}

// TestHeadersBounded: headers beyond MaxHeaderBytes get 431.
func TestHeadersBounded(t *testing.T) {
	base := servingWith(t, Options{})
	if status, body := fresh(t, "GET", base+"/healthz", http.Header{"X-Big": {strings.Repeat("a", MaxHeaderBytes+8<<10)}}); status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("GET /healthz with %d bytes of headers: %d %s, want 431", MaxHeaderBytes+8<<10, status, body)
	}
	if status, body := fresh(t, "GET", base+"/healthz", http.Header{"X-Small": {strings.Repeat("a", 8<<10)}}); status != http.StatusOK {
		t.Fatalf("GET /healthz with 8 KiB of headers: %d %s, want 200", status, body)
	}
}
