package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestBench runs every measurement in turn and prints the report.
func TestBench(t *testing.T) {
	if !enabled() {
		t.Skip("set DEPLOYWATCH_BENCH=1 (make bench) to run the benchmarks")
	}
	r := &report{}
	start := time.Now()
	header := fmt.Sprintf("Machine: %s (at the start). Mode: %s.", machine(), mode())
	testbed.BuildPlugin(t)

	steps := []struct {
		name string
		run  func(*testing.T, *report)
	}{
		{"micro", benchMicro},
		{"latency", benchLatency},
		{"noise", benchNoise},
		{"fanout", benchFanout},
		{"stalled", benchStalled},
		{"storm", benchStorm},
		{"apiload", benchAPILoad},
		{"bigcluster", benchBigCluster},
		{"diagnose", benchDiagnose},
		{"livetable", benchLiveTable},
		{"contexts", benchContexts},
		{"namespaces", benchNamespaces},
		{"serving", benchServing},
		{"kinds", benchKinds},
		{"servemem", benchServeMemory},
	}
	only := os.Getenv("BENCH_ONLY") // e.g. BENCH_ONLY=latency,noise
	for _, s := range steps {
		if only != "" && !strings.Contains(","+only+",", ","+s.name+",") {
			continue
		}
		t.Run(s.name, func(t *testing.T) { s.run(t, r) })
	}

	out := fmt.Sprintf("## deploywatch benchmarks\n\n%s\nLoad average at the end: %s. Took %v.\n\n%s",
		header, loadavg(), time.Since(start).Round(time.Second), r.markdown())
	fmt.Println("\n" + out)
	if *reportPath != "" {
		if err := os.WriteFile(*reportPath, []byte(out), 0o644); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}
}

func mode() string {
	if *quick {
		return "QUICK (scaled down)"
	}
	return "full"
}

// pick returns full, or quick under -quick.
func pick[T any](full, quickly T) T {
	if *quick {
		return quickly
	}
	return full
}

// unschedulable keeps a Deployment's pods Pending, so that changes cost the
// test bed little: no kubelet work, only the controllers' status updates.
func unschedulable(spec *corev1.PodSpec) {
	spec.NodeSelector = map[string]string{"deploywatch-bench": "no-such-node"}
}

func createDeployment(t testing.TB, cs kubernetes.Interface, ns string, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	got, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, d.Name, err)
	}
	return got
}

// scale sets the replicas through the scale subresource, as kubectl scale
// does, and returns the new resourceVersion.
func scale(t testing.TB, cs kubernetes.Interface, ns, name string, replicas int32) string {
	t.Helper()
	s, err := cs.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("scale %s/%s to %d: %v", ns, name, replicas, err)
	}
	return s.ResourceVersion
}

// setImage sets the first container's image, as kubectl set image does, and
// returns the new resourceVersion.
func setImage(t testing.TB, cs kubernetes.Interface, ns, name, container, image string) string {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, container, image)
	d, err := cs.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("set image of %s/%s: %v", ns, name, err)
	}
	return d.ResourceVersion
}

// waitSettled waits until the Deployment's controller has caught up with
// its spec and every wanted replica is available (or, with pods that cannot
// be scheduled, until the controller observed the generation).
func waitSettled(t testing.TB, cs kubernetes.Interface, ns, name string, needReady bool) {
	t.Helper()
	testutil.Eventually(t, 2*time.Minute, "deployment "+ns+"/"+name+" to settle", func() bool {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || d.Status.ObservedGeneration < d.Generation {
			return false
		}
		if !needReady {
			return true
		}
		want := *d.Spec.Replicas
		st := d.Status
		return st.UpdatedReplicas == want && st.ReadyReplicas == want && st.AvailableReplicas == want && st.Replicas == want
	})
}
