package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// rawStream opens a stream on a bare connection with an HTTP/1.0 or 1.1
// request, as the benchmark's clients and browsers do, and returns its
// response, the connection and the events of its body.
func rawStream(t *testing.T, addr, proto, path, auth string) (*http.Response, net.Conn, *sse) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "GET " + path + " " + proto + "\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + auth + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s stream: %s", proto, resp.Status)
	}
	return resp, conn, &sse{r: bufio.NewReader(resp.Body)}
}

// nextEvent is s.next, failing the test on an error.
func nextEvent(t *testing.T, s *sse) sseEvent {
	t.Helper()
	ev, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// hijackedStreams is how many streams f's server follows off net/http.
func (s *Server) hijackedStreams() int {
	s.hijacked.mu.Lock()
	defer s.hijacked.mu.Unlock()
	return len(s.hijacked.conns)
}

// TestStreamOffNetHTTP: HTTP/1.0 (the benchmark's clients) and HTTP/1.1
// (EventSource) streams leave net/http's connection and get the same
// stream: unchunked, the headers, the snapshot, the changes, heartbeats.
func TestStreamOffNetHTTP(t *testing.T) {
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Heartbeat = 20 * time.Millisecond }, namespaceObj("shop"), newDeployment("shop", "web", 1))
			resp, _, s := rawStream(t, f.ts.Listener.Addr().String(), proto, "/api/namespaces/shop/deployments/stream", testToken)
			if resp.Proto != proto || len(resp.TransferEncoding) != 0 || resp.ContentLength != -1 || !resp.Close {
				t.Errorf("%s %s, transfer encoding %v, length %d, close %v: want %s, unchunked, to the end of the connection",
					resp.Proto, resp.Status, resp.TransferEncoding, resp.ContentLength, resp.Close, proto)
			}
			for k, want := range map[string]string{"Content-Type": "text/event-stream", "X-Accel-Buffering": "no", "Cache-Control": "no-cache, no-transform"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if ev := nextEvent(t, s); ev.event != "snapshot" || s.retry != "2000" || !strings.Contains(ev.data, `"name":"web"`) {
				t.Fatalf("first event %+v (retry %q), want the snapshot after retry: 2000", ev, s.retry)
			}
			if n := f.srv.hijackedStreams(); n != 1 {
				t.Fatalf("%d streams off net/http, want 1", n)
			}
			scaleTo(f, t, 4)
			for {
				ev := nextEvent(t, s)
				if ev.event == "upsert" && strings.Contains(ev.data, `"desired":4`) {
					break
				}
			}
			// Idle, heartbeats.
			for n := 0; n < 2; {
				line, err := s.r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if line == ": heartbeat\n" {
					n++
				}
			}
		})
	}
}

// TestStreamClientLeavesReleased: a client that closes its connection
// gives back its subscription (the clients metric), its place in
// MaxStreams and its connection, with no event to write.
func TestStreamClientLeavesReleased(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Heartbeat = 20 * time.Millisecond; o.MaxStreams = 1 }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	addr := f.ts.Listener.Addr().String()
	_, conn, s := rawStream(t, addr, "HTTP/1.0", "/api/namespaces/shop/deployments/stream", testToken)
	if ev := nextEvent(t, s); ev.event != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}
	if got := f.hub.Stats().Clients; got != 1 {
		t.Fatalf("hub counts %d clients, want 1", got)
	}
	conn.Close()
	testutil.Eventually(t, 10*time.Second, "the stream to end after its client left", func() bool {
		return f.hub.Stats().Clients == 0 && f.srv.streams.Load() == 0 && f.srv.hijackedStreams() == 0
	})
	// Its place in MaxStreams is free: the next stream gets a snapshot.
	_, _, again := rawStream(t, addr, "HTTP/1.1", "/api/namespaces/shop/deployments/stream", testToken)
	if ev := nextEvent(t, again); ev.event != "snapshot" {
		t.Fatalf("a stream after the first left got %+v, want a snapshot", ev)
	}
}

// TestStreamEndsWhenClientHalfCloses: a client that sends its FIN but
// could still read is let go at the next heartbeat, as net/http's
// background read did; writes alone would go on succeeding forever.
func TestStreamEndsWhenClientHalfCloses(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Heartbeat = 20 * time.Millisecond }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	_, conn, s := rawStream(t, f.ts.Listener.Addr().String(), "HTTP/1.0", "/api/namespaces/shop/deployments/stream", testToken)
	if ev := nextEvent(t, s); ev.event != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failure, not a hang
	if _, err := io.Copy(io.Discard, s.r); err != nil {
		t.Fatalf("the stream did not end after its client's FIN: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the stream to let go", func() bool {
		return f.hub.Stats().Clients == 0 && f.srv.streams.Load() == 0 && f.srv.hijackedStreams() == 0
	})
}

// TestStreamsOfGoneClientsMakeRoom: at --max-streams, the streams whose
// client left are ended to make room, within reapEvery, not at their next
// heartbeat (an hour here): when every client reconnects together, the new streams
// are not told to come back later because of the old ones.
func TestStreamsOfGoneClientsMakeRoom(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Heartbeat = time.Hour; o.MaxStreams = 2 }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	addr := f.ts.Listener.Addr().String()
	const path = "/api/namespaces/shop/deployments/stream"
	var conns []net.Conn
	for range 2 {
		_, conn, s := rawStream(t, addr, "HTTP/1.1", path, testToken)
		if ev := nextEvent(t, s); ev.event != "snapshot" {
			t.Fatalf("first event %+v", ev)
		}
		conns = append(conns, conn)
	}
	// Full, and both clients still there: a third is told to come back.
	_, _, refused := rawStream(t, addr, "HTTP/1.1", path, testToken)
	if ev := nextEvent(t, refused); ev.event != "reconnect" || !strings.Contains(ev.data, "TooManyStreams") {
		t.Fatalf("a stream over the cap got %+v, want a reconnect event for TooManyStreams", ev)
	}
	// Both leave; nothing is written to them (no event, no heartbeat).
	for _, c := range conns {
		c.Close()
	}
	// A sweep runs at most every reapEvery, and one just ran (for the
	// refused stream): a stream may be refused until the next.
	for i, deadline := 0, time.Now().Add(10*time.Second); i < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("streams still refused 10 s after their clients left")
		}
		_, _, s := rawStream(t, addr, "HTTP/1.1", path, testToken)
		switch ev := nextEvent(t, s); {
		case ev.event == "snapshot":
			i++
		case ev.event != "reconnect":
			t.Fatalf("stream %d after the first two left got %+v, want a snapshot", i, ev)
		case f.srv.streams.Load() != 2:
			t.Fatalf("refused with %d streams open", f.srv.streams.Load())
		}
	}
	if n, c := f.srv.streams.Load(), f.hub.Stats().Clients; n != 2 || c != 2 {
		t.Fatalf("%d streams and %d subscriptions after the old ones were ended, want 2 and 2", n, c)
	}
}

// tcpPair is both ends of a loopback TCP connection, closed when the test
// ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// TestPeerClosed: the look that does not wait tells a client that closed
// from one that is there, even one that sent bytes after its request.
func TestPeerClosed(t *testing.T) {
	client, server := tcpPair(t)
	if peerClosed(server) {
		t.Fatal("a connected client was taken for gone")
	}
	if _, err := io.WriteString(client, "stray bytes"); err != nil {
		t.Fatal(err)
	}
	// The bytes arrive: the server's echo of them proves it.
	if _, err := io.WriteString(server, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if peerClosed(server) {
		t.Fatal("a client that sent bytes was taken for gone")
	}
	client.Close()
	testutil.Eventually(t, 10*time.Second, "the closed client to be seen", func() bool { return peerClosed(server) })
}

// TestShutdownEndsStreamsOffNetHTTP: Serve's shutdown tells the streams it
// took off net/http to reconnect, HTTP/1.0 and 1.1, and returns only once
// they ended and gave back their subscriptions.
func TestShutdownEndsStreamsOffNetHTTP(t *testing.T) {
	srv, h, base, cancel, served := servingServer(t, namespaceObj("shop"), newDeployment("shop", "web", 1))
	addr := strings.TrimPrefix(base, "http://")
	var streams []*sse
	var firsts []sseEvent
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		_, _, s := rawStream(t, addr, proto, "/api/namespaces/shop/deployments/stream", testToken)
		first := nextEvent(t, s)
		if first.event != "snapshot" {
			t.Fatalf("%s: first event %+v", proto, first)
		}
		streams, firsts = append(streams, s), append(firsts, first)
	}
	if n := srv.hijackedStreams(); n != 2 {
		t.Fatalf("%d streams off net/http, want 2", n)
	}
	cancel()
	for i, s := range streams {
		if ev, err := s.next(); err != nil || ev.event != "reconnect" || ev.id != firsts[i].id {
			t.Fatalf("stream %d after shutdown: %+v, %v; want reconnect with the last id %s", i, ev, err, firsts[i].id)
		}
		if _, err := s.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("stream %d not closed after its reconnect event: %v", i, err)
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if c, n := h.Stats().Clients, srv.streams.Load(); c != 0 || n != 0 {
		t.Fatalf("Serve returned with %d subscriptions and %d streams open", c, n)
	}
}

// TestStreamConnsCutAtTheDeadline: a stream that does not end in time has
// its connection closed, and shutdown returns once it ended.
func TestStreamConnsCutAtTheDeadline(t *testing.T) {
	var c streamConns
	client, conn := tcpPair(t)
	if !c.add() {
		t.Fatal("add refused before the shutdown")
	}
	c.track(conn, func() {})
	var ended atomic.Bool
	go func() { // a stream stuck until its connection closes
		_, _ = conn.Read(make([]byte, 1))
		ended.Store(true)
		c.done(conn)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if c.shutdown(ctx) {
		t.Fatal("shutdown reported every stream ended in time")
	}
	if !ended.Load() {
		t.Fatal("shutdown returned before the stream ended")
	}
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the client's connection after the cut: %v, want EOF", err)
	}
	if c.add() {
		t.Fatal("add accepted after the shutdown")
	}
}

// TestStreamHTTP2StaysOnNetHTTP: where the connection cannot be hijacked
// (HTTP/2), the stream is net/http's, as before.
func TestStreamHTTP2StaysOnNetHTTP(t *testing.T) {
	client := newClient(namespaceObj("shop"), newDeployment("shop", "web", 1))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	ts := httptest.NewUnstartedServer(nil)
	ts.EnableHTTP2 = true
	srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ts.Listener.Addr(), Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ts.Config.Handler = srv.Handler()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	req, _ := http.NewRequest("GET", ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("%s %s, want HTTP/2 200", resp.Proto, resp.Status)
	}
	s := &sse{r: bufio.NewReader(resp.Body)}
	if ev := nextEvent(t, s); ev.event != "snapshot" {
		t.Fatalf("first event %+v", ev)
	}
	if n := srv.hijackedStreams(); n != 0 {
		t.Fatalf("%d HTTP/2 streams off net/http", n)
	}
	resp.Body.Close()
	testutil.Eventually(t, 10*time.Second, "the HTTP/2 stream to end after its client left", func() bool { return h.Stats().Clients == 0 && srv.streams.Load() == 0 })
}

// TestStreamForbiddenOffNetHTTP: with AuthKubernetes, a stream off
// net/http still re-checks its user's right every auth.AccessReviewTTL and ends
// with a forbidden event once it is revoked.
func TestStreamForbiddenOffNetHTTP(t *testing.T) {
	k := newKubeFixture(t)
	var later atomic.Int64 // how far the kube-auth clock is ahead
	k.srv.kube.Now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	var revoked atomic.Bool
	k.client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if !revoked.Load() {
			return false, nil, nil // the fixture's answer
		}
		sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = false
		return true, sar, nil
	})
	_, _, s := rawStream(t, k.ts.Listener.Addr().String(), "HTTP/1.1", "/api/namespaces/shop/deployments/stream", "bob-token")
	first := nextEvent(t, s)
	if first.event != "snapshot" {
		t.Fatalf("first event %+v", first)
	}
	if n := k.srv.hijackedStreams(); n != 1 {
		t.Fatalf("%d streams off net/http, want 1", n)
	}
	revoked.Store(true)
	later.Store(int64(2 * auth.AccessReviewTTL))
	// The next event wakes the stream (unless it had not gone to sleep
	// yet); the re-check after it ends the stream.
	scaleTo(k.fixture, t, 2)
	last := first.id
	ev := nextEvent(t, s)
	if ev.event == "upsert" {
		last = ev.id
		ev = nextEvent(t, s)
	}
	if ev.event != "forbidden" || ev.id != last || !strings.Contains(ev.data, "Forbidden") {
		t.Fatalf("after the revocation got %+v, want a forbidden event with the last id %s", ev, last)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream not closed after its forbidden event: %v", err)
	}
}
