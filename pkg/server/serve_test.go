package server

import (
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
