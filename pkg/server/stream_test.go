package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// sse reads Server-Sent Events.
type sse struct {
	r        *bufio.Reader
	retry    string
	comments int
}

type sseEvent struct{ id, event, data string }

func (s *sse) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "retry: "):
			s.retry = strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func openStream(t *testing.T, url string, header map[string]string) (*http.Response, *sse) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip") // must be ignored
	withToken(req, header)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	return resp, &sse{r: bufio.NewReader(resp.Body)}
}

func TestStream(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Heartbeat = 20 * time.Millisecond }, namespaceObj("shop"), newDeployment("shop", "web", 3))
	resp, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "X-Accel-Buffering": "no", "Content-Encoding": "", "Cache-Control": "no-cache, no-transform"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	ev, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.event != "snapshot" || ev.id == "" || s.retry != "2000" {
		t.Fatalf("first event %+v (retry %q), want a snapshot with an id after retry: 2000", ev, s.retry)
	}
	var events []deployment.Event
	if err := json.Unmarshal([]byte(ev.data), &events); err != nil || len(events) != 1 || events[0].Name != "web" || events[0].Type != deployment.Added {
		t.Fatalf("snapshot data %s: %v", ev.data, err)
	}
	// Idle, the stream gets heartbeats.
	beats := make(chan error, 1)
	go func() {
		for n := 0; n < 2; {
			line, err := s.r.ReadString('\n')
			if err != nil {
				beats <- err
				return
			}
			if line == ": heartbeat\n" {
				n++
			}
		}
		beats <- nil
	}()
	select {
	case err := <-beats:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no two heartbeats in 10s with a 20ms heartbeat")
	}
	if got := f.hub.Stats().Clients; got != 1 {
		t.Fatalf("hub counts %d clients, want 1", got)
	}
}

// TestStreamCap: beyond MaxStreams, a stream is told to reconnect later in
// a way a standard EventSource follows (200, retry:, reconnect, the end).
func TestStreamCap(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxStreams = 1 }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	_, first := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	if ev, err := first.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("first stream: %+v %v", ev, err)
	}
	resp, second := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	if ev, err := second.next(); err != nil || ev.event != "reconnect" || !strings.Contains(ev.data, "TooManyStreams") || second.retry == "" {
		t.Fatalf("second stream: %+v %v (retry %q), want a reconnect event", ev, err, second.retry)
	}
	if _, err := second.next(); err != io.EOF {
		t.Fatalf("after the reconnect event: %v, want the end", err)
	}
	if !resp.Close {
		t.Errorf("a refused stream keeps its connection")
	}
	if resp, _ := f.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz at the cap: %d", resp.StatusCode)
	}
}

// TestStreamHead: HEAD on a stream gets a stream's headers and no body,
// takes no stream place, and leaves the connection fit for the next
// request; a namespace the server does not have is refused as for GET.
func TestStreamHead(t *testing.T) {
	srv, _, base, _, _ := servingServer(t, namespaceObj("shop"), newDeployment("shop", "web", 1))
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := "HEAD /api/namespaces/shop/deployments/stream HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + testToken + "\r\n\r\n"
	get := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + get)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD on a stream: %v %v; want 200 text/event-stream", resp, err)
	}
	resp.Body.Close()
	if n := srv.streams.Load(); n != 0 {
		t.Fatalf("HEAD holds %d stream places, want 0", n)
	}
	resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("the request after HEAD on the same connection: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("GET /healthz after HEAD on a stream: %d %s", resp.StatusCode, body)
	}
	// Checked as GET is.
	req, _ := http.NewRequest(http.MethodHead, base+"/api/namespaces/nope/deployments/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("HEAD on a namespace that does not exist: %v %v; want refused", resp, err)
	}
	resp.Body.Close()
}
