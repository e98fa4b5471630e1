package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeStandardEventSourceSurvives follows serve's streams with the npm
// eventsource package, as a script or dashboard would, through a shutdown
// (one client connects during --shutdown-delay), a restart and an outage of
// the API server (one client connects during it): no client gives up, and
// each ends at the API server's state. A standard EventSource gives up for
// good on any answer but 200, so serve answers what retrying can fix with
// 200, retry: and a reconnect event.
func TestServeStandardEventSourceSurvives(t *testing.T) {
	b := newFaultBed(t, testbed.Options{}, true)
	b.create(t, "web", 1)
	if _, err := b.cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	truth := b.waitSettled(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(randomHex(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	// One watch per namespace, so that a namespace nobody watches needs the
	// API server to be checked: with the cluster-wide watch, serve knows
	// every namespace already and answers from memory with the lost watch's
	// state (TestServeClusterWideOneWatchForManyNamespaces, the outage tests).
	args := []string{"--token-file", tokenFile, "--shutdown-delay", "10s", "--shutdown-timeout", "25s", "--linger", "0", "--watch-scope", "namespace"}
	p := startServeEnv(t, b.env, args...)
	stream := p.base + "/api/namespaces/" + b.ns + "/deployments/stream"

	first := startEventSource(t, stream, p.token)
	testutil.Eventually(t, time.Minute, "the first client to show the namespace", func() bool { return matchesAll(first.view(), truth) == "" })

	// Shutdown: once /readyz fails, a second client connects during the delay.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "/readyz to fail during the shutdown delay", func() bool {
		status, _ := p.request(t, "GET", "/readyz", "", nil)
		return status == 503
	})
	late := startEventSource(t, stream, p.token)
	testutil.Eventually(t, time.Minute, "the late client to be told to reconnect", func() bool {
		for _, l := range late.seen() {
			if l.Type == "reconnect" {
				return true
			}
		}
		return !late.alive()
	})
	<-p.exited
	if err := b.scale(t, "web", 3); err != nil { // while no serve runs
		t.Fatal(err)
	}
	truth = b.waitSettled(t)

	// Restart on the same address: both come back by themselves.
	_, port, _ := strings.Cut(strings.TrimPrefix(p.base, "http://"), ":")
	p2 := startServeEnv(t, b.env, append(args, "--address", "127.0.0.1:"+port)...)
	if p2.base != p.base {
		t.Fatalf("restarted serve on %s, want %s", p2.base, p.base)
	}
	for name, c := range map[string]*esClient{"first": first, "late": late} {
		testutil.Eventually(t, 2*time.Minute, "the "+name+" client to end at the truth after the restart", func() bool {
			return !c.alive() || matchesAll(c.view(), truth) == ""
		})
	}

	// The API server unreachable: a client of a namespace no one watches
	// connects; serve cannot check it, and tells it to come back.
	b.proxy.Cut()
	other := startEventSource(t, p2.base+"/api/namespaces/other/deployments/stream", p2.token)
	testutil.Eventually(t, 2*time.Minute, "the client connecting during the outage to be told to reconnect", func() bool {
		for _, l := range other.seen() {
			if l.Type == "reconnect" && strings.Contains(l.Data, "APIServerUnreachable") {
				return true
			}
		}
		return !other.alive()
	})
	if err := b.scale(t, "web", 2); err != nil { // not through the proxy
		t.Fatal(err)
	}
	truth = b.waitSettled(t)
	b.proxy.Restore()
	for name, c := range map[string]*esClient{"first": first, "late": late} {
		testutil.Eventually(t, 2*time.Minute, "the "+name+" client to end at the truth after the outage", func() bool {
			return !c.alive() || matchesAll(c.view(), truth) == ""
		})
	}
	testutil.Eventually(t, 2*time.Minute, "the client of namespace other to get its snapshot", func() bool {
		for _, l := range other.seen() {
			if l.Type == "snapshot" {
				return true
			}
		}
		return !other.alive()
	})

	for name, c := range map[string]*esClient{"first": first, "late": late, "other": other} {
		if !c.alive() {
			t.Errorf("the %s client gave up:\n%s", name, c.transcript())
		}
		for _, l := range c.seen() {
			if l.Type == "error" && l.Code != nil {
				t.Errorf("the %s client got HTTP %d: %s", name, *l.Code, l.Message)
			}
		}
	}
	if matchesAll(first.view(), truth) != "" || matchesAll(late.view(), truth) != "" {
		t.Errorf("clients differ from the truth: first %s; late %s", matchesAll(first.view(), truth), matchesAll(late.view(), truth))
	}
	// The late client's first answer was the reconnect event, not an error.
	if l := late.seen(); len(l) == 0 || (l[0].Type != "open" && l[0].Type != "reconnect") {
		t.Errorf("the late client began with %+v", l)
	}
}
