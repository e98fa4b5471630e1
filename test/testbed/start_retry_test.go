package testbed

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartAgainWhenNotReady: a cluster whose nodes never become Ready (its
// kwok-controller is stopped with SIGSTOP right after kwokctl created it, as
// a kwok starved of CPU would be) is replaced by a new one, with its own
// workdir and ports, and the failure shows kwok-controller's log.
func TestStartAgainWhenNotReady(t *testing.T) {
	first, c, failure := startFailingFirst(t, 90*time.Second, func(c *Cluster) {
		pid, err := c.ComponentPID(KwokController)
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGSTOP)
		}
		if err != nil {
			t.Errorf("stop kwok-controller: %v", err)
		}
	})
	checkStartedAgain(t, first, failure, c, "cluster not ready: 0 of 2 nodes Ready")
}

// TestStartAgainWhenAComponentExits: a component that exits (here
// kwok-controller, killed; a component that cannot bind its port exits the
// same way) fails the attempt at once, without waiting for the timeout.
func TestStartAgainWhenAComponentExits(t *testing.T) {
	first, c, failure := startFailingFirst(t, 0, func(c *Cluster) {
		if err := c.StopComponent(KwokController); err != nil {
			t.Errorf("kill kwok-controller: %v", err)
		}
	})
	checkStartedAgain(t, first, failure, c, "cluster not ready: component kwok-controller of cluster "+first.Name()+" is not running")
}

// TestStartAgainWhenAPortIsTaken: the API server's port, chosen free, is
// taken before kube-apiserver binds it (by another cluster's component or
// any process on a busy machine); the API server exits and the second
// attempt, on new ports, works.
func TestStartAgainWhenAPortIsTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a cluster; skipped with -short")
	}
	var taken net.Listener
	var first *Cluster
	var failure error
	c, err := newCluster(Options{hooks: &startHooks{
		beforeCreate: func(c *Cluster, ports []int, attempt int) {
			if attempt != 1 {
				return
			}
			first = c
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
			if err != nil {
				t.Errorf("take port %d: %v", ports[0], err)
				return
			}
			taken = ln
		},
		failed: func(err error) { failure = err },
	}})
	if taken != nil {
		defer taken.Close()
	}
	if err != nil {
		t.Fatalf("no cluster after a second attempt: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(); err != nil {
			t.Error(err)
		}
	})
	if taken == nil || first == nil || failure == nil {
		t.Fatalf("the first attempt did not fail (port taken %v, first cluster %v, error %v): this test proves nothing", taken != nil, first, failure)
	}
	checkStartedAgain(t, first, failure, c, "kube-apiserver exited while kwokctl started the cluster")
	if !strings.Contains(failure.Error(), "address already in use") {
		t.Errorf("the first attempt's error does not show why the API server exited:\n%s", failure)
	}
	if strings.HasSuffix(c.RESTConfig().Host, fmt.Sprint(taken.Addr().(*net.TCPAddr).Port)) {
		t.Errorf("the second cluster's API server %s is on the taken port", c.RESTConfig().Host)
	}
}

// startFailingFirst starts a cluster whose first attempt is broken by breakIt
// once kwokctl created it.
func startFailingFirst(t *testing.T, timeout time.Duration, breakIt func(*Cluster)) (first, c *Cluster, failure error) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a cluster; skipped with -short")
	}
	c, err := newCluster(Options{hooks: &startHooks{
		firstTimeout: timeout,
		afterCreate: func(c *Cluster, attempt int) {
			if attempt == 1 {
				first = c
				breakIt(c)
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
	return first, c, failure
}

func checkStartedAgain(t *testing.T, first *Cluster, failure error, c *Cluster, why string) {
	t.Helper()
	msg := failure.Error()
	for _, want := range []string{"start cluster " + first.Name() + " (attempt 1 of 2): " + why, "--- end of kwok-controller.log:", "--- end of kube-apiserver.log:"} {
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
	// The new cluster is whole: every component runs, the nodes are Ready.
	if err := c.componentsRunning(); err != nil {
		t.Error(err)
	}
	if out := c.Kubectl(t, "get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}"); strings.Count(out, "True") != Nodes {
		t.Errorf("nodes Ready: %q, want %d True", out, Nodes)
	}
}
