package testutil

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// failTB records Fatalf instead of ending the test.
type failTB struct {
	testing.TB
	failed string
}

func (f *failTB) Helper() {}
func (f *failTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f)
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	calls := 0
	Eventually(t, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}
}

func TestEventuallyFailsAfterTheTimeout(t *testing.T) {
	f := &failTB{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Eventually(f, 50*time.Millisecond, "nothing", func() bool { return false })
	}()
	if f.failed != "timed out after 50ms waiting for nothing" {
		t.Errorf("failed with %q", f.failed)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the timeout", d)
	}
}

func TestDeployment(t *testing.T) {
	d := Deployment("web", Namespace("shop"), Replicas(3), Labels(map[string]string{"tier": "front"}), Image("nginx:1"),
		Strategy(appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}),
		PodSpec(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a": "b"} }), Observed(2))
	if d.Name != "web" || d.Namespace != "shop" || *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("meta or spec: %+v", d)
	}
	if got := d.Spec.Selector.MatchLabels; len(got) != 1 || got["app"] != "web" {
		t.Errorf("selector %v, want app=web", got)
	}
	if got := d.Spec.Template.Labels; len(got) != 2 || got["app"] != "web" || got["tier"] != "front" {
		t.Errorf("pod labels %v, want app=web and tier=front", got)
	}
	if c := d.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Name != "app" || c[0].Image != "nginx:1" || d.Spec.Template.Spec.NodeSelector["a"] != "b" {
		t.Errorf("pod spec %+v", d.Spec.Template.Spec)
	}
	s := d.Status
	if d.UID != "uid-web" || d.Generation != 2 || s.ObservedGeneration != 2 || s.Replicas != 3 || s.UpdatedReplicas != 3 || s.ReadyReplicas != 3 || s.AvailableReplicas != 3 ||
		len(s.Conditions) != 1 || s.Conditions[0].Reason != "NewReplicaSetAvailable" {
		t.Errorf("status %+v", s)
	}
	// Replicas after Observed keeps the status rolled out.
	if d := Deployment("web", Observed(1), Replicas(5)); d.Status.AvailableReplicas != 5 {
		t.Errorf("status %+v after Replicas(5)", d.Status)
	}
	// Two builds share nothing.
	a, b := Deployment("web"), Deployment("web")
	a.Spec.Template.Labels["x"] = "y"
	if _, ok := b.Spec.Template.Labels["x"]; ok || b.Spec.Selector.MatchLabels["x"] != "" {
		t.Error("two Deployments share their labels")
	}
}

func TestStalledConnWaitsForResume(t *testing.T) {
	// In a bubble, synctest.Wait returns once the reader is blocked for good.
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer client.Close()
		defer server.Close()
		c := NewStalledConn(client)
		c.Stall()
		read := make(chan string, 1)
		go func() {
			b := make([]byte, 5)
			n, _ := c.Read(b)
			read <- string(b[:n])
		}()
		go func() { _, _ = server.Write([]byte("hello")) }()
		synctest.Wait()
		select {
		case s := <-read:
			t.Fatalf("a stalled conn read %q", s)
		default:
		}
		c.Resume()
		c.Resume() // again: nothing
		if s := <-read; s == "" || !strings.HasPrefix("hello", s) {
			t.Errorf("read %q after Resume", s)
		}
	})
}
