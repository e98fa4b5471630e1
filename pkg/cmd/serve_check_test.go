package cmd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestCheckAPIServer: serve refuses, at once and in one line, an API server
// that is its own address (client-go's default with no kubeconfig), one
// that refuses connections and one that does not answer; it starts against
// one that answers.
func TestCheckAPIServer(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")

	answers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"major": "1", "minor": "37", "gitVersion": "v1.37.2"}`))
	}))
	defer answers.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hangs := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hangs:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(hangs)

	for _, tt := range []struct {
		name, host string
		timeout    time.Duration
		want       string // "" for no error
	}{
		{"its own address by name", "http://localhost:" + port, 0, "is serve's own address"},
		{"its own address by IP", "https://127.0.0.1:" + port, 0, "is serve's own address"},
		{"its own address without a scheme", "127.0.0.1:" + port, 0, "is serve's own address"},
		{"refused", closed.URL, 0, "cannot reach the API server at " + closed.URL + ": connection refused"},
		{"silent", silent.URL, 300 * time.Millisecond, "cannot reach the API server at " + silent.URL},
		{"answers", answers.URL, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := clientsFor(&rest.Config{Host: tt.host, Timeout: tt.timeout}, "default", false)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = checkAPIServer(context.Background(), c, ln.Addr(), ln.Addr().String())
			if took := time.Since(start); took > reachTimeout+time.Second {
				t.Errorf("took %s", took)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

// TestSelfAddressed: the API server's URL names serve's listener by name,
// IP or, for a listener on every address, any loopback address; another
// port or host does not.
func TestSelfAddressed(t *testing.T) {
	at := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		host, listen string
		want         bool
	}{
		{"http://localhost:8080", "127.0.0.1:8080", true},
		{"http://localhost:8080", "0.0.0.0:8080", true},
		{"http://127.0.0.1:8080", "[::]:8080", true},
		{"https://127.0.0.1", "127.0.0.1:443", true},
		{"http://127.0.0.1", "127.0.0.1:80", true},
		{"http://localhost:8080", "127.0.0.1:8081", false},
		{"https://127.0.0.1", "127.0.0.1:80", false},
		{"https://10.255.255.1:8080", "127.0.0.1:8080", false},
		{"", "127.0.0.1:8080", false},
	} {
		if got := selfAddressed(context.Background(), tt.host, at(tt.listen)); got != tt.want {
			t.Errorf("API server %q, serve on %s: self %v, want %v", tt.host, tt.listen, got, tt.want)
		}
	}
}
