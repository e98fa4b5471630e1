package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeConnectionsCappedProbesAnswer runs serve with 200 file
// descriptors and 300 clients that pipeline requests for the page's script
// and never read: serve holds at most --max-connections of them (taken
// from the limit), /healthz goes on answering, /api/info is told to retry
// while they hold their places, and once their writes pass the write
// deadline they are dropped and /api/info answers again. Headers beyond
// 32 KiB get 431, and 230 clients sending 1 MB of headers cost serve
// little memory.
func TestServeConnectionsCappedProbesAnswer(t *testing.T) {
	p := startServeUnder(t, []string{"prlimit", "--nofile=200:200", "--"}, nil)
	pid := p.cmd.Process.Pid
	var m []string
	testutil.Eventually(t, time.Minute, "serve's log to name its maxConnections", func() bool {
		m = regexp.MustCompile(`maxStreams=(\d+) maxConnections=(\d+)`).FindStringSubmatch(p.stderr.String())
		return m != nil
	})
	if m[1] != "100" || m[2] != "60" { // 200 files: 100 streams, 60 connections, 40 kept
		t.Fatalf("maxStreams=%s maxConnections=%s with 200 descriptors, want 100 and 60", m[1], m[2])
	}
	host := strings.TrimPrefix(p.base, "http://")
	req := "GET /app.js HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	var held []net.Conn
	for range 300 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		_, _ = c.Write([]byte(strings.Repeat(req, 300))) // closed at once beyond the cap: an error then
		held = append(held, c)
	}
	testutil.Eventually(t, time.Minute, "/api/info to be refused with every connection taken", func() bool {
		status, _ := freshRequest(p, "GET", "/api/info", nil)
		return status == http.StatusServiceUnavailable
	})
	files := openFiles(t, pid)
	for i := range 20 {
		if status, body := freshRequest(p, "GET", "/healthz", nil); status != http.StatusOK {
			t.Fatalf("/healthz %d with the connections taken: %d %s", i, status, body)
		}
	}
	status, body := freshRequest(p, "GET", "/api/info", nil)
	apiErr(t, "/api/info with the connections taken", status, []byte(body), 503, "TooManyConnections")

	// The write deadline (30 s) drops the non-readers: the API answers again.
	testutil.Eventually(t, 2*time.Minute, "/api/info to answer once the non-readers are dropped", func() bool {
		status, _ := freshRequest(p, "GET", "/api/info", nil)
		return status == http.StatusOK
	})
	for i, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var ne net.Error
		if _, err := io.Copy(io.Discard, c); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("client %d still connected after the write deadline", i)
		}
	}
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Fatalf("serve ran out of descriptors:\n%s", p.stderr.String())
	}

	// Headers: 431 beyond 32 KiB; 230 clients sending 1 MB of them.
	if status, body := freshRequest(p, "GET", "/healthz", http.Header{"X-Big": {strings.Repeat("a", 40<<10)}}); status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("GET /healthz with 40 KiB of headers: %d %s, want 431", status, body)
	}
	rssBefore := rssBytes(t, pid)
	big := []byte("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
	done := make(chan struct{}, 230)
	for range 230 {
		go func() {
			defer func() { done <- struct{}{} }()
			c, err := net.Dial("tcp", host)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, _ = c.Write(big) // refused part way: an error then
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	for range 230 {
		<-done
	}
	rssAfter := rssBytes(t, pid)
	if grew := rssAfter - rssBefore; grew > 32<<20 { // 1 MiB each, as before the limit, would be 60 MiB and more
		t.Fatalf("RSS grew from %d to %d MiB", rssBefore>>20, rssAfter>>20)
	}
	// Their connections linger half a second after the 431 (net/http's
	// reset avoidance), holding their places meanwhile.
	testutil.Eventually(t, time.Minute, "/healthz to answer after the large headers", func() bool {
		status, _ := freshRequest(p, "GET", "/healthz", nil)
		return status == http.StatusOK
	})
	t.Logf("200 descriptors: %d open with 300 non-readers; RSS %d MiB before, %d MiB after 230 clients sent 1 MB of headers",
		files, rssBefore>>20, rssAfter>>20)
}

// freshRequest sends one request with serve's token on a connection of its
// own; status 0 and the error when it got no answer in 10 s.
func freshRequest(p *serveProc, method, path string, header http.Header) (int, string) {
	req, _ := http.NewRequest(method, p.base+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// openFiles counts a process's open file descriptors.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(fmt.Errorf("open files of pid %d: %w", pid, err))
	}
	return len(fds)
}
