package testbed

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestStartAgainWhenNotReady: a cluster whose nodes never become Ready (its
// kwok-controller is killed right after kwokctl created it, as a kwok starved
// of CPU would be) is replaced by a new one, with its own workdir and ports,
// and the failure shows kwok-controller's log.
func TestStartAgainWhenNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a cluster; skipped with -short")
	}
	var first *Cluster
	var failure error
	c, err := newCluster(Options{hooks: &startHooks{
		firstTimeout: 30 * time.Second,
		afterCreate: func(c *Cluster, attempt int) {
			if attempt != 1 {
				return
			}
			first = c
			if err := c.StopComponent(KwokController); err != nil {
				t.Errorf("stop kwok-controller: %v", err)
			}
		},
		failed: func(err error) { failure = err },
	}})
	if err != nil {
		t.Fatalf("no cluster after a second attempt: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(); err != nil {
			t.Error(err)
		}
	})
	if first == nil || failure == nil {
		t.Fatalf("the first attempt did not fail (first cluster %v, error %v): this test proves nothing", first, failure)
	}
	msg := failure.Error()
	for _, want := range []string{"start cluster " + first.Name(), "cluster not ready: 0 of 2 nodes Ready", "--- end of kwok-controller.log:", "--- end of kube-apiserver.log:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the first attempt's error does not say %q:\n%s", want, msg)
		}
	}
	if c.Name() == first.Name() || c.Workdir() == first.Workdir() {
		t.Errorf("the second attempt reused cluster %s (workdir %s)", first.Name(), first.Workdir())
	}
	if _, err := os.Stat(first.Workdir()); !os.IsNotExist(err) {
		t.Errorf("the failed cluster's workdir %s is left: %v", first.Workdir(), err)
	}
	// The new cluster is whole: its nodes are Ready, with kwok running.
	if _, err := c.ComponentPID(KwokController); err != nil {
		t.Error(err)
	}
	if out := c.Kubectl(t, "get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}"); strings.Count(out, "True") != Nodes {
		t.Errorf("nodes Ready: %q, want %d True", out, Nodes)
	}
}
