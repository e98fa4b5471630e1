// Package e2e holds the end-to-end tests: they run against a real API
// server, controllers and scheduler from test/testbed, and run the plugin the
// way users do, as `kubectl deploywatch`.
package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

// TestTestbedRollsOutADeployment proves the test bed is a real cluster: the
// deployment and replicaset controllers, the scheduler and kwok's fake
// kubelet take a Deployment to 3 ready replicas, and kubectl agrees.
func TestTestbedRollsOutADeployment(t *testing.T) {
	ns := testbed.NewNamespace(t)
	cs := testbed.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	_, err := cs.AppsV1().Deployments(ns).Create(ctx, testutil.Deployment("web", testutil.Replicas(3),
		testutil.Containers(corev1.Container{Name: "web", Image: testutil.PauseImage})), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	var d *appsv1.Deployment
	for {
		d, err = cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get deployment: %v", err)
		}
		s := d.Status
		if s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment not 3/3 ready within a minute: status %+v", s)
		case <-time.After(50 * time.Millisecond):
		}
	}

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("got %d pods, want 3", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: node %q, phase %s; want scheduled and Running", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}

	out := testbed.Kubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")
	t.Logf("kubectl rollout status: %s", out)
}
