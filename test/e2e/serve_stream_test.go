package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeStreamSnapshotThenKubectlChange: a stream starts with a snapshot
// and then carries a change made with kubectl; the REST side agrees.
func TestServeStreamSnapshotThenKubectlChange(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	p := startServe(t)

	if status, body := p.request(t, "GET", "/readyz", "", nil); status != 200 {
		t.Fatalf("/readyz: %d %s", status, body)
	}
	s := p.openStream(t, ns, nil)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "X-Accel-Buffering": "no", "Content-Encoding": ""} {
		if got := s.resp.Header.Get(k); got != want {
			t.Errorf("stream header %s = %q, want %q", k, got, want)
		}
	}
	first := s.next(t, time.Minute)
	snap := snapshotOf(t, first)
	if len(snap) != 1 || snap[0].Name != "web" || snap[0].Replicas.Desired != 1 || first.ID == "" {
		t.Fatalf("snapshot %s (id %q), want web with 1 replica", first.Data, first.ID)
	}
	s.mu.Lock()
	retry := s.retry
	s.mu.Unlock()
	if retry == "" {
		t.Errorf("no retry: field before the first event")
	}

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=3")
	ev := s.until(t, 30*time.Second, "upsert to 3 replicas", desiredIs(t, "web", 3))
	if ev.ID == "" || ev.ID == first.ID {
		t.Errorf("upsert id %q after snapshot id %q: want a new id", ev.ID, first.ID)
	}
	e := eventOf(t, ev)
	if e.Type != "MODIFIED" || !strings.Contains(strings.Join(e.Changed, ","), "replicas.desired") || e.Namespace != ns {
		t.Errorf("upsert data %s: want the NDJSON event of a MODIFIED web", ev.Data)
	}
	testbed.Kubectl(t, "-n", ns, "delete", "deployment/web")
	del := s.until(t, 30*time.Second, "delete event", func(ev sseEvent) bool { return ev.Event == "delete" })
	if eventOf(t, del).Name != "web" || del.ID == "" {
		t.Errorf("delete event %+v", del)
	}

	// The namespace list counts what the namespace has.
	createDeployment(t, ns, "api", 0)
	var list struct {
		Namespaces []struct {
			Name        string         `json:"name"`
			Total       int            `json:"total"`
			Deployments map[string]int `json:"deployments"`
		} `json:"namespaces"`
	}
	testutil.Eventually(t, 30*time.Second, "the namespace list to count api as ScaledToZero", func() bool {
		status, body := p.request(t, "GET", "/api/namespaces", "", nil)
		if status != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("/api/namespaces: %d %s", status, body)
		}
		for _, n := range list.Namespaces {
			if n.Name == ns {
				return n.Total == 1 && n.Deployments["ScaledToZero"] == 1
			}
		}
		return false
	})
	status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", nil)
	if status != 200 || !strings.Contains(string(body), `"name":"api"`) {
		t.Fatalf("GET deployments: %d %s", status, body)
	}
}

// TestServeResumeWithLastEventID: a client that comes back with the id of
// the last event it saw gets only what it missed; an id the server cannot
// resume from (unknown epoch, or from before a restart) gets a snapshot.
func TestServeResumeWithLastEventID(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	p := startServe(t, "--linger", "10m")

	observer := p.openStream(t, ns, nil) // keeps the namespace's history alive
	observer.next(t, time.Minute)
	s := p.openStream(t, ns, nil)
	last := s.next(t, time.Minute)
	snapshotOf(t, last)
	s.close()

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=2")
	observer.until(t, 30*time.Second, "the scale to reach the server", desiredIs(t, "web", 2))

	t.Run("Last-Event-ID header", func(t *testing.T) {
		r := p.openStream(t, ns, map[string]string{"Last-Event-ID": last.ID})
		ev := r.next(t, 30*time.Second)
		if ev.Event != "upsert" {
			t.Fatalf("resumed stream began with %q %s, want the missed upsert", ev.Event, ev.Data)
		}
		// Every missed event comes in order; the scale is among them.
		for !desiredIs(t, "web", 2)(ev) {
			ev = r.next(t, 30*time.Second)
			if ev.Event == "snapshot" {
				t.Fatalf("got a snapshot while resuming")
			}
		}
	})
	t.Run("lastEventId query parameter", func(t *testing.T) {
		r := p.openStreamPath(t, "/api/namespaces/"+ns+"/deployments/stream?lastEventId="+last.ID)
		if ev := r.next(t, 30*time.Second); ev.Event != "upsert" {
			t.Fatalf("resumed with the query parameter: %q, want upsert", ev.Event)
		}
	})
	t.Run("unknown epoch gets a snapshot", func(t *testing.T) {
		r := p.openStream(t, ns, map[string]string{"Last-Event-ID": "000000000000-1"})
		snap := snapshotOf(t, r.next(t, 30*time.Second))
		if len(snap) != 1 || snap[0].Replicas.Desired != 2 {
			t.Fatalf("snapshot %+v, want web at 2", snap)
		}
	})
	t.Run("after a restart the old id gets a snapshot", func(t *testing.T) {
		observer.close()
		p.stop(t)
		p2 := startServe(t)
		r := p2.openStream(t, ns, map[string]string{"Last-Event-ID": last.ID})
		snap := snapshotOf(t, r.next(t, time.Minute))
		if len(snap) != 1 || snap[0].Replicas.Desired != 2 {
			t.Fatalf("snapshot %+v, want web at 2", snap)
		}
	})
}

// TestServeInformerStopsAfterLastClient: the namespace's watch on the API
// server lives only while someone looks (here with --linger 0).
func TestServeInformerStopsAfterLastClient(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	baseline := deploymentWatches(t)
	p := startServe(t, "--linger", "0s")
	if got := p.metric(t, "deploywatch_informers_running"); got != 0 {
		t.Fatalf("informers before any client: %v", got)
	}
	a := p.openStream(t, ns, nil)
	a.next(t, time.Minute)
	b := p.openStream(t, ns, nil)
	b.next(t, time.Minute)
	if got := p.metric(t, "deploywatch_informers_running"); got != 1 {
		t.Fatalf("informers with two clients: %v, want 1", got)
	}
	testutil.Eventually(t, 30*time.Second, "one more deployment watch on the API server", func() bool { return deploymentWatches(t) == baseline+1 })

	a.close()
	testutil.Eventually(t, 30*time.Second, "one client left", func() bool { return p.metric(t, "deploywatch_sse_clients") == 1 })
	if got := p.metric(t, "deploywatch_informers_running"); got != 1 {
		t.Fatalf("informers with one client left: %v, want 1", got)
	}
	b.close()
	testutil.Eventually(t, 30*time.Second, "the informer to stop", func() bool { return p.metric(t, "deploywatch_informers_running") == 0 })
	if got := p.metric(t, "deploywatch_sse_clients"); got != 0 {
		t.Fatalf("clients after both left: %v", got)
	}
	testutil.Eventually(t, 30*time.Second, "the API server's deployment watches back to the baseline", func() bool { return deploymentWatches(t) == baseline })
}

// TestServeGracefulShutdown: on SIGTERM every stream gets a last event
// telling its client to reconnect, and serve exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t)
	s := p.openStream(t, ns, nil)
	first := s.next(t, time.Minute)
	p.stop(t) // SIGTERM; fails the test unless the exit is clean
	ev := s.next(t, 30*time.Second)
	if ev.Event != "reconnect" || ev.ID != first.ID {
		t.Fatalf("after SIGTERM got %+v, want a reconnect event with id %s", ev, first.ID)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream stayed open after the reconnect event")
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("serve's log does not say it shut down:\n%s", p.stderr.String())
	}
}

// TestServeStreamsOnBareHTTP1: serve answers HTTP/1.0 (scripts, the
// benchmark's clients) and HTTP/1.1 (EventSource) streams unchunked, to be
// read to the end of the connection, and lets go of a client that closes
// its connection, or only sends its FIN, at the next heartbeat.
func TestServeStreamsOnBareHTTP1(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t, "--heartbeat", "200ms")
	addr := strings.TrimPrefix(p.base, "http://")
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		for _, leave := range []string{"close", "FIN"} {
			t.Run(proto+"/"+leave, func(t *testing.T) {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a failure, not a hang
				req := "GET /api/namespaces/" + ns + "/deployments/stream " + proto + "\r\nHost: " + addr +
					"\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + p.token + "\r\n\r\n"
				if _, err := io.WriteString(conn, req); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || resp.Proto != proto || len(resp.TransferEncoding) != 0 || resp.ContentLength != -1 || !resp.Close {
					t.Fatalf("%s %s, transfer encoding %v, length %d, close %v: want %s 200, unchunked, to the end of the connection",
						resp.Proto, resp.Status, resp.TransferEncoding, resp.ContentLength, resp.Close, proto)
				}
				// The snapshot, then a heartbeat: the stream goes on.
				body := bufio.NewReader(resp.Body)
				for _, want := range []string{"event: snapshot\n", ": heartbeat\n"} {
					for {
						line, err := body.ReadString('\n')
						if err != nil {
							t.Fatalf("before %q: %v", want, err)
						}
						if line == want {
							break
						}
					}
				}
				if got := p.metric(t, "deploywatch_sse_clients"); got != 1 {
					t.Fatalf("deploywatch_sse_clients = %v with one stream open", got)
				}
				if leave == "close" {
					conn.Close()
				} else {
					if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
						t.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, body); err != nil {
						t.Fatalf("the stream did not end after the client's FIN: %v", err)
					}
				}
				testutil.Eventually(t, 30*time.Second, "the stream to be let go", func() bool { return p.metric(t, "deploywatch_sse_clients") == 0 })
			})
		}
	}
}
