package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// opsHPA makes an autoscaling/v2 HorizontalPodAutoscaler name in ns that
// targets Deployment target. The test bed has no metrics server, so the
// controller-manager's HPA controller can only hold the count within
// [min, max]; the tests change spec.replicas themselves where they need
// the autoscaler's write at a given moment.
func opsHPA(t *testing.T, ns, name, target string, min, max int32) {
	t.Helper()
	opsHPAOf(t, ns, name, "Deployment", target, min, max)
}

// opsHPAOf makes an HPA of the workload of kind and target.
func opsHPAOf(t *testing.T, ns, name, kind, target string, min, max int32) {
	t.Helper()
	cpu := int32(50)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: target},
			MinReplicas:    &min, MaxReplicas: max,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: "cpu", Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu}}}},
		},
	}
	if _, err := testbed.Clientset(t).AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), h, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create hpa %s: %v", name, err)
	}
}

// scaleAsAutoscaler sets spec.replicas through the scale subresource, as
// the HPA controller does.
func scaleAsAutoscaler(t *testing.T, ns, name string, replicas int32) {
	deployments := testbed.Clientset(t).AppsV1().Deployments(ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := deployments.GetScale(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = deployments.UpdateScale(context.Background(), name, s, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Errorf("scale %s to %d as the autoscaler: %v", name, replicas, err)
	}
}

// scaleAnswer is what serve answers a scale, as far as autoscalers go.
type scaleAnswer struct {
	Changed     bool   `json:"changed"`
	Warning     string `json:"warning"`
	Autoscalers []struct {
		Name string `json:"name"`
	} `json:"autoscalers"`
}

// scaleOnTheWeb scales through serve's scale route at path.
func scaleOnTheWeb(t *testing.T, p *serveProc, path string, replicas int) (scaleAnswer, []byte) {
	t.Helper()
	status, body := p.request(t, "PUT", path, fmt.Sprintf(`{"replicas": %d}`, replicas), p.auth())
	var res scaleAnswer
	if err := json.Unmarshal(body, &res); err != nil || status != 200 {
		t.Fatalf("PUT scale: %d %s (%v)", status, body, err)
	}
	return res, body
}

// TestOpsScaleStatefulSetWithAutoscaler: scaling a StatefulSet warns of
// the HPA that targets it, and not of one that targets a Deployment of the
// same name.
func TestOpsScaleStatefulSetWithAutoscaler(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createStatefulSet(t, ns, "db", 1, false, nil)
	opsHPAOf(t, ns, "db-hpa", "StatefulSet", "db", 1, 2)
	opsHPA(t, ns, "deploy-db-hpa", "db", 1, 5)

	r := opsRun(t, "-n", ns, "scale", "sts/db", "--replicas=2")
	if r.code != 0 || r.stdout != "statefulset.apps/db scaled\n" {
		t.Errorf("scale: exit %d, stdout %q", r.code, r.stdout)
	}
	warning := `warning: HorizontalPodAutoscaler "db-hpa" (min 1, max 2 replicas) targets statefulset "db" in namespace "` + ns +
		`" and will undo this change of its replicas; change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead`
	if !strings.HasPrefix(r.stderr, warning) || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "deploy-db-hpa") {
		t.Errorf("stderr %q, want one line: %s...", r.stderr, warning)
	}

	p := startServe(t)
	res, body := scaleOnTheWeb(t, p, "/api/namespaces/"+ns+"/statefulsets/db/scale", 1)
	if !res.Changed || !strings.HasPrefix("warning: "+res.Warning, warning) || len(res.Autoscalers) != 1 || res.Autoscalers[0].Name != "db-hpa" {
		t.Errorf("PUT scale answered %s, want the warning and db-hpa", body)
	}
}

// TestOpsScaleWithAutoscaler: scaling a Deployment an HPA targets warns, in
// one line on stderr, that the HPA will undo it and what to change instead;
// --wait ends with exit 1 naming the HPA when the replica count is changed
// under it (before its watch starts, or while it waits); a user who may not
// read HPAs scales without a warning and without a failure.
func TestOpsScaleWithAutoscaler(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 1, true, nil)
	opsHPA(t, ns, "web-hpa", "web", 1, 2)
	warning := `warning: HorizontalPodAutoscaler "web-hpa" (min 1, max 2 replicas) targets deployment "web" in namespace "` + ns +
		`" and will undo this change of its replicas; change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead`

	r := opsRun(t, "-n", ns, "scale", "web", "--replicas=2")
	if r.code != 0 || r.stdout != "deployment.apps/web scaled\n" {
		t.Errorf("scale: exit %d, stdout %q", r.code, r.stdout)
	}
	if !strings.HasPrefix(r.stderr, warning) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line: %s...", r.stderr, warning)
	}

	t.Run("the autoscaler writes before the wait's watch starts", func(t *testing.T) {
		proxy := newRaceProxy(t)
		collection := "/apis/apps/v1/namespaces/" + ns + "/deployments"
		proxy.on(func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == collection }, func() {
			scaleAsAutoscaler(t, ns, "web", 2)
		})
		r := runEnv(t, proxy.env(t, ns), "scale", "web", "--replicas=5", "--wait", "--timeout=3m")
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		opsContains(t, "stderr", r.stderr, warning,
			`error: deployment "web" in namespace "`+ns+`" was scaled to 2 replicas by someone else while waiting for 5: HorizontalPodAutoscaler "web-hpa" (min 1, max 2 replicas) sets its replicas`,
			"kubectl patch hpa web-hpa -n "+ns)
	})

	t.Run("the autoscaler writes while it waits", func(t *testing.T) {
		// Pods no node takes: the rollout to 3 cannot end by itself.
		opsDeployment(t, ns, "stuck", 0, false, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
		})
		opsHPA(t, ns, "stuck-hpa", "stuck", 1, 3)
		p := startWatch(t, "-n", ns, "scale", "stuck", "--replicas=3", "--wait", "--timeout=3m")
		testutil.Eventually(t, time.Minute, "the wait's row of stuck with 3 desired", func() bool {
			rows := tableRows(p, "stuck")
			return len(rows) > 0 && strings.Contains(rows[len(rows)-1], "/3")
		})
		scaleAsAutoscaler(t, ns, "stuck", 1)
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute): // --timeout is 3m: it must end on the change, not on that
			t.Fatalf("scale --wait did not end after the autoscaler's change; output:\n%s", strings.Join(p.output(), "\n"))
		}
		var exit *exec.ExitError
		if err := p.cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("exit %v, want 1", err)
		}
		opsContains(t, "stderr", p.stderr.String(),
			`by someone else while waiting for 3: HorizontalPodAutoscaler "stuck-hpa" (min 1, max 3 replicas) sets its replicas`)
	})

	t.Run("may not read HPAs: no warning, no failure", func(t *testing.T) {
		env := []string{"KUBECONFIG=" + opsScaleOnlyKubeconfig(t, ns)}
		r := runEnv(t, env, "-n", ns, "scale", "web", "--replicas=1")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
		}
	})

	t.Run("the web API carries the warning", func(t *testing.T) {
		p := startServe(t)
		res, body := scaleOnTheWeb(t, p, "/api/namespaces/"+ns+"/deployments/web/scale", 2)
		if !res.Changed || !strings.HasPrefix("warning: "+res.Warning, warning) || len(res.Autoscalers) != 1 || res.Autoscalers[0].Name != "web-hpa" {
			t.Errorf("PUT scale answered %s, want the warning and web-hpa", body)
		}
	})
}
