package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// TestServeKubernetesAuthDebugLogsNoToken: with DEPLOYWATCH_KLOG_V=9, serve
// --auth=kubernetes says it lowered client-go's logging to 7 and logs its
// requests (the TokenReviews among them), but neither a user's token (in a
// TokenReview's body from level 8), a refused one, nor serve's own.
func TestServeKubernetesAuthDebugLogsNoToken(t *testing.T) {
	b := newKubeAuthBed(t)
	kubeconfig := serviceAccountKubeconfigOf(t, b.c, "deploywatch", "deploywatch")
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	serveToken := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].Token
	p := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig, "DEPLOYWATCH_KLOG_V=9"}, "--auth=kubernetes")

	status, body := p.request(t, "GET", "/api/namespaces", "", b.as("alice"))
	if status != 200 {
		t.Fatalf("alice's GET /api/namespaces: %d %s", status, body)
	}
	const madeUp = "made-up-token-0123456789abcdefghijklmnopqrstuvwxyz"
	status, body = p.request(t, "GET", "/api/namespaces", "", map[string]string{"Authorization": "Bearer " + madeUp})
	apiErr(t, "a made-up token", status, body, 401, "Unauthorized")

	// client-go logs each request before serve answers it: the log is whole.
	// It dumps protobuf bodies in hexdump -C lines, 16 bytes each: the
	// text column of consecutive lines, joined, holds what they held.
	log := p.stderr.String()
	searched := log + "\n" + hexdumpText(log)
	for what, secret := range map[string]string{"alice's token": b.tokens["alice"], "the made-up token": madeUp, "serve's token": serveToken} {
		// JWTs of one issuer begin alike: look for their middle and end.
		mid, end := secret[len(secret)/2:len(secret)/2+16], secret[len(secret)-16:]
		if strings.Contains(searched, mid) || strings.Contains(searched, end) {
			t.Errorf("serve's log at DEPLOYWATCH_KLOG_V=9 holds %s", what)
		}
	}
	if !strings.Contains(log, "DEPLOYWATCH_KLOG_V=9 lowered to 7") || !strings.Contains(log, "tokenreviews") {
		t.Errorf("serve's log does not say it lowered the level, or has no TokenReview logged")
	}
	if t.Failed() {
		t.Logf("serve's log:\n%s", log)
	}
}

// hexdumpLine is a line of client-go's dump of a body: offset, hex, text.
var hexdumpLine = regexp.MustCompile(`^\s*[0-9a-f]{8}  [0-9a-f ]+\|(.{1,16})\|$`)

// hexdumpText joins the text columns of log's hexdump lines.
func hexdumpText(log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		if m := hexdumpLine.FindStringSubmatch(line); m != nil {
			b.WriteString(m[1])
		} else {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestServeStreamHead: HEAD on a stream gets its headers without a body,
// opens no stream, and the connection serves the next request.
func TestServeStreamHead(t *testing.T) {
	b := newKubeAuthBed(t)
	host := strings.TrimPrefix(b.p.base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	head := "HEAD /api/namespaces/team-a/deployments/stream HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + b.tokens["alice"] + "\r\n\r\n"
	get := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + get)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD on a stream: %v %v; want 200 text/event-stream", resp, err)
	}
	resp.Body.Close()
	resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("the response after HEAD on a stream cannot be read: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("GET /healthz after HEAD on a stream: %d %s", resp.StatusCode, body)
	}
	// The HEAD's connection is still open: it holds no stream.
	if n := b.p.metric(t, "deploywatch_sse_clients"); n != 0 {
		t.Fatalf("deploywatch_sse_clients = %v after HEAD, want 0", n)
	}
	// Checked as GET is: alice may not read team-b.
	req, _ := http.NewRequest(http.MethodHead, b.p.base+"/api/namespaces/team-b/deployments/stream", nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens["alice"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("alice's HEAD on team-b's stream: %v %v; want 403", resp, err)
	}
	resp.Body.Close()
}
