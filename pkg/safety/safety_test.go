package safety

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// safe is a Deployment no rule fires on: 2 replicas, maxSurge 1 and
// maxUnavailable 0, a readinessProbe on its port, a preStop sleep shorter
// than the grace period. Tests change one thing at a time.
func safe() *appsv1.Deployment {
	labels := map[string]string{"app": "web", "tier": "front"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx",
					Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}},
					Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
				}}},
			},
		},
	}
}

func service(ns string, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
}

func pdb(ns string, selector *metav1.LabelSelector) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: selector, MaxUnavailable: ptr.To(intstr.FromInt32(1))},
	}
}

// found is a finding in short: rule, level, container.
type found struct{ rule, level, container string }

func short(fs []Finding) []found {
	out := []found{}
	for _, f := range fs {
		out = append(out, found{f.Rule, string(f.Level), f.Container})
	}
	return out
}

// TestRules: each rule fires exactly when it should, one change at a time
// from a Deployment no rule fires on, with what the message must say.
func TestRules(t *testing.T) {
	web := map[string]string{"app": "web"}
	svc := service("shop", web)
	guard := pdb("shop", &metav1.LabelSelector{MatchLabels: web})
	container := func(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }
	rollingUpdate := func(surge, unavailable string) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: budget(surge), MaxUnavailable: budget(unavailable)}
		}
	}
	replicas := func(n int32) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(n) }
	}
	preStopExec := func(cmd ...string) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) {
			container(d).Lifecycle.PreStop = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
		}
	}
	grace := func(s int64) func(*appsv1.Deployment) {
		return func(d *appsv1.Deployment) { d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(s) }
	}
	noProbe := func(d *appsv1.Deployment) { container(d).ReadinessProbe = nil }
	noPreStop := func(d *appsv1.Deployment) { container(d).Lifecycle = nil }

	for _, tt := range []struct {
		name     string
		edits    []func(*appsv1.Deployment)
		services []*corev1.Service
		pdbs     []*policyv1.PodDisruptionBudget
		want     []found
		// says are words the first finding's message must hold.
		says []string
	}{
		{name: "safe", services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},

		// The write-up's "before": 1 replica, maxSurge 0, no readinessProbe,
		// no preStop, a Service.
		{name: "before", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			services: []*corev1.Service{svc},
			want:     []found{{RolloutDropsAllPods, "warning", ""}, {NoReadinessProbe, "warning", "web"}, {NoPreStop, "warning", "web"}},
			says:     []string{"maxSurge 0 and maxUnavailable 25% both come to 0 for 1 pod, so the controller takes maxUnavailable 1", `Service "web" then has no ready endpoint`}},
		// The same without a Service: no request is lost, nothing to say.
		{name: "before, no Service", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			want: []found{}},

		// rollout-drops-all-pods
		{name: "Recreate", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{RolloutDropsAllPods, "warning", ""}},
			says: []string{"strategy Recreate stops all 2 pods before it starts new ones"}},
		{name: "Recreate, no Service", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "1 replica, defaults 25%/25%", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("", "")},
			services: []*corev1.Service{svc}, want: []found{}},
		{name: "1 replica, unset strategy", edits: []func(*appsv1.Deployment){replicas(1), func(d *appsv1.Deployment) { d.Spec.Strategy = appsv1.DeploymentStrategy{} }},
			services: []*corev1.Service{svc}, want: []found{}},
		{name: "1 replica, maxSurge 1, maxUnavailable 1", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("1", "1")},
			services: []*corev1.Service{svc}, want: []found{{RolloutDropsAllPods, "warning", ""}},
			says: []string{"maxSurge 1 and maxUnavailable 1 come to 1 and 1 for 1 pod"}},
		{name: "3 replicas, maxUnavailable 5", edits: []func(*appsv1.Deployment){replicas(3), rollingUpdate("0", "5")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{{RolloutDropsAllPods, "warning", ""}},
			says: []string{"come to 0 and 3 for 3 pods"}},
		{name: "3 replicas, maxUnavailable 2", edits: []func(*appsv1.Deployment){replicas(3), rollingUpdate("0", "2")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "2 replicas, maxUnavailable 100%", edits: []func(*appsv1.Deployment){rollingUpdate("25%", "100%")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{{RolloutDropsAllPods, "warning", ""}}},
		{name: "3 replicas, maxSurge 0, 25%: 1 of 3", edits: []func(*appsv1.Deployment){replicas(3), rollingUpdate("0", "25%")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "10 replicas, maxSurge 0, 100%", edits: []func(*appsv1.Deployment){replicas(10), rollingUpdate("0", "100%")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{{RolloutDropsAllPods, "warning", ""}}},
		{name: "0 replicas", edits: []func(*appsv1.Deployment){replicas(0), rollingUpdate("0", "")},
			services: []*corev1.Service{svc}, want: []found{}},
		{name: "refused budget: not guessed", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", "0")},
			services: []*corev1.Service{svc}, want: []found{}},

		// Which Services select the pods.
		{name: "Service in another namespace", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			services: []*corev1.Service{service("other", web)}, want: []found{}},
		{name: "Service without a selector", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			services: []*corev1.Service{service("shop", nil)}, want: []found{}},
		{name: "Service selecting other pods", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			services: []*corev1.Service{service("shop", map[string]string{"app": "web", "tier": "back"})}, want: []found{}},
		{name: "ExternalName Service", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", ""), noProbe, noPreStop},
			services: []*corev1.Service{func() *corev1.Service {
				s := service("shop", web)
				s.Spec.Type = corev1.ServiceTypeExternalName
				return s
			}()}, want: []found{}},
		{name: "two Services", edits: []func(*appsv1.Deployment){replicas(1), rollingUpdate("0", "")},
			services: []*corev1.Service{svc, func() *corev1.Service {
				s := service("shop", map[string]string{"tier": "front"})
				s.Name = "front"
				return s
			}()}, want: []found{{RolloutDropsAllPods, "warning", ""}},
			says: []string{`Services "web", "front" then have no ready endpoint`}},

		// no-readiness-probe
		{name: "no readinessProbe", edits: []func(*appsv1.Deployment){noProbe}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "warning", "web"}},
			says: []string{`container "web" serves port 8080 ("http") behind Service "web" and has no readinessProbe`}},
		{name: "no readinessProbe, no Service", edits: []func(*appsv1.Deployment){noProbe}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "no readinessProbe, minReadySeconds", edits: []func(*appsv1.Deployment){noProbe, func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 10 }},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "notice", "web"}}, says: []string{"minReadySeconds 10 keeps the old pods"}},
		{name: "a startupProbe instead", edits: []func(*appsv1.Deployment){noProbe, func(d *appsv1.Deployment) {
			container(d).StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "a sidecar the Service does not target", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "metrics", Ports: []corev1.ContainerPort{{ContainerPort: 9090}}})
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "the targeted port is a sidecar's", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Ports: []corev1.ContainerPort{{ContainerPort: 8443, Name: "https"}}}}
		}}, services: []*corev1.Service{func() *corev1.Service {
			s := service("shop", web)
			s.Spec.Ports = []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromString("https")}}
			return s
		}()}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "warning", "proxy"}}, says: []string{`container "proxy" serves port 8443 ("https")`}},
		{name: "targeted by the Service's port, no targetPort", edits: []func(*appsv1.Deployment){noProbe, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "admin", Ports: []corev1.ContainerPort{{ContainerPort: 9000}}})
		}}, services: []*corev1.Service{func() *corev1.Service {
			s := service("shop", web)
			s.Spec.Ports = []corev1.ServicePort{{Port: 9000}}
			return s
		}()}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "warning", "admin"}}},
		{name: "no port targeted: every container with ports", edits: []func(*appsv1.Deployment){noProbe, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "admin", Ports: []corev1.ContainerPort{{ContainerPort: 9000}}})
		}}, services: []*corev1.Service{func() *corev1.Service {
			s := service("shop", web)
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(7000)}}
			return s
		}()}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "warning", "web"}, {NoReadinessProbe, "warning", "admin"}}},
		{name: "no declared port, no probe", edits: []func(*appsv1.Deployment){noProbe, func(d *appsv1.Deployment) { container(d).Ports = nil }},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoReadinessProbe, "warning", ""}}, says: []string{"no container has a readinessProbe (and none declares a port)"}},
		{name: "no declared port, a probe", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) { container(d).Ports = nil }},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},

		// no-prestop
		{name: "no preStop", edits: []func(*appsv1.Deployment){noPreStop}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{NoPreStop, "warning", "web"}}, says: []string{"no container has a preStop hook", "endpoint removal races SIGTERM"}},
		{name: "no preStop, no Service", edits: []func(*appsv1.Deployment){noPreStop}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "an exec preStop", edits: []func(*appsv1.Deployment){preStopExec("sleep", "5")}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "an httpGet preStop", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			container(d).Lifecycle.PreStop = &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/drain", Port: intstr.FromInt32(8080)}}
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "a sidecar's preStop", edits: []func(*appsv1.Deployment){noPreStop, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}}}
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},

		// grace-shorter-than-prestop: the default grace period is 30 s.
		{name: "sleep action 30, default grace", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			container(d).Lifecycle.PreStop.Sleep.Seconds = 30
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{GraceShorterThanPreStop, "warning", "web"}},
			says: []string{`terminationGracePeriodSeconds 30 is not longer than container "web"'s preStop sleep of 30 s`}},
		{name: "sleep action 29, default grace", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) {
			container(d).Lifecycle.PreStop.Sleep.Seconds = 29
		}}, services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "exec sleep 5, grace 5", edits: []func(*appsv1.Deployment){preStopExec("sleep", "5"), grace(5)},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{GraceShorterThanPreStop, "warning", "web"}}},
		{name: "exec sleep 5, grace 6", edits: []func(*appsv1.Deployment){preStopExec("sleep", "5"), grace(6)},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "shell sleep 5, grace 5", edits: []func(*appsv1.Deployment){preStopExec("/bin/sh", "-c", "sleep 5 && nginx -s quit"), grace(5)},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{GraceShorterThanPreStop, "warning", "web"}}},
		{name: "shell sleep 1m, default grace", edits: []func(*appsv1.Deployment){preStopExec("sh", "-c", "sleep 1m")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{GraceShorterThanPreStop, "warning", "web"}}, says: []string{"preStop sleep of 60 s"}},
		{name: "sleep of unknown length", edits: []func(*appsv1.Deployment){preStopExec("sh", "-c", "sleep $DRAIN"), grace(1)},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{}},
		{name: "sleep infinity", edits: []func(*appsv1.Deployment){preStopExec("sleep", "infinity")},
			services: []*corev1.Service{svc}, pdbs: []*policyv1.PodDisruptionBudget{guard},
			want: []found{{GraceShorterThanPreStop, "warning", "web"}}, says: []string{"sleeps forever"}},
		{name: "grace shorter, no Service", edits: []func(*appsv1.Deployment){preStopExec("sleep", "45")},
			pdbs: []*policyv1.PodDisruptionBudget{guard}, want: []found{{GraceShorterThanPreStop, "warning", "web"}}},

		// no-pdb
		{name: "no PDB", services: []*corev1.Service{svc}, want: []found{{NoPDB, "notice", ""}},
			says: []string{"no PodDisruptionBudget selects its 2 pods", "PodDisruptionBudgets guard drains and evictions; rolling updates are not limited by them"}},
		{name: "no PDB, no Service", want: []found{{NoPDB, "notice", ""}}},
		{name: "no PDB, 1 replica", edits: []func(*appsv1.Deployment){replicas(1)}, services: []*corev1.Service{svc}, want: []found{}},
		{name: "no PDB, unset replicas", edits: []func(*appsv1.Deployment){func(d *appsv1.Deployment) { d.Spec.Replicas = nil }}, services: []*corev1.Service{svc}, want: []found{}},
		{name: "PDB in another namespace", pdbs: []*policyv1.PodDisruptionBudget{pdb("other", &metav1.LabelSelector{MatchLabels: web})},
			want: []found{{NoPDB, "notice", ""}}},
		{name: "PDB selecting other pods", pdbs: []*policyv1.PodDisruptionBudget{pdb("shop", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}})},
			want: []found{{NoPDB, "notice", ""}}},
		{name: "PDB with an empty selector: every pod", pdbs: []*policyv1.PodDisruptionBudget{pdb("shop", &metav1.LabelSelector{})}, want: []found{}},
		{name: "PDB without a selector: no pod", pdbs: []*policyv1.PodDisruptionBudget{pdb("shop", nil)}, want: []found{{NoPDB, "notice", ""}}},
		{name: "PDB with an expression", pdbs: []*policyv1.PodDisruptionBudget{pdb("shop", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "edge"}}}})}, want: []found{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := safe()
			for _, edit := range tt.edits {
				edit(d)
			}
			got := CheckDeployment(d, tt.services, tt.pdbs)
			if !slices.Equal(short(got), tt.want) {
				t.Fatalf("findings %+v; want %+v\n%s", short(got), tt.want, dump(got))
			}
			for _, f := range got {
				if f.Namespace != "shop" || f.Deployment != "web" || f.Message == "" || f.Fix == "" || strings.Contains(f.Message+f.Fix, "\n") {
					t.Errorf("finding %+v: want namespace shop, deployment web, a one-line message and fix", f)
				}
			}
			for _, w := range tt.says {
				if !strings.Contains(got[0].Message, w) {
					t.Errorf("message %q does not say %q", got[0].Message, w)
				}
			}
		})
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Rule + ": " + f.Message + " / fix: " + f.Fix + "\n")
	}
	return b.String()
}

// TestCheckOrdersAndMatchesByNamespace: every Deployment gets the Services
// and PDBs of its own namespace, and findings come by namespace and name.
func TestCheckOrdersAndMatchesByNamespace(t *testing.T) {
	web := map[string]string{"app": "web"}
	a, b, c := safe(), safe(), safe()
	a.Namespace, b.Namespace, c.Namespace = "zoo", "shop", "shop"
	c.Name = "api"
	for _, d := range []*appsv1.Deployment{a, b, c} {
		d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
	}
	got := Check([]*appsv1.Deployment{a, b, c},
		[]*corev1.Service{service("zoo", web), service("shop", web)},
		[]*policyv1.PodDisruptionBudget{pdb("shop", &metav1.LabelSelector{MatchLabels: web})})
	var where []string
	for _, f := range got {
		where = append(where, f.Namespace+"/"+f.Deployment+":"+f.Rule)
	}
	want := []string{"shop/api:no-readiness-probe", "shop/web:no-readiness-probe", "zoo/web:no-readiness-probe", "zoo/web:no-pdb"}
	if !slices.Equal(where, want) {
		t.Errorf("Check = %q; want %q", where, want)
	}
}

func TestExecSleep(t *testing.T) {
	for _, tt := range []struct {
		cmd  []string
		want float64
		ok   bool
	}{
		{[]string{"sleep", "5"}, 5, true},
		{[]string{"/bin/sleep", "5"}, 5, true},
		{[]string{"/usr/bin/sleep", "2.5"}, 2.5, true},
		{[]string{"sleep", "1m", "30s"}, 90, true},
		{[]string{"sleep", "1h"}, 3600, true},
		{[]string{"/bin/sh", "-c", "sleep 5"}, 5, true},
		{[]string{"sh", "-c", "sleep 5 && nginx -s quit"}, 5, true},
		{[]string{"bash", "-ec", "sleep 2; kill -TERM 1; sleep 3"}, 5, true},
		{[]string{"/bin/ash", "-c", "echo bye; sleep 10"}, 10, true},
		{[]string{"busybox", "sleep", "7"}, 7, true},
		{[]string{"busybox", "sh", "-c", "sleep 7"}, 7, true},
		{[]string{"sh", "-c", "echo sleep 5"}, 0, false},
		{[]string{"sh", "-c", "sleep $DELAY"}, 0, false},
		{[]string{"sh", "-c", "nginx -s quit"}, 0, false},
		{[]string{"sleep"}, 0, false},
		{[]string{"sleep", "-5"}, 0, false},
		{[]string{"sleep", "five"}, 0, false},
		{[]string{"nginx", "-s", "quit"}, 0, false},
		{[]string{"sh", "sleep 5"}, 0, false}, // a script file named "sleep 5", not a command
		{nil, 0, false},
	} {
		got, ok := execSleep(tt.cmd)
		if got != tt.want || ok != tt.ok {
			t.Errorf("execSleep(%q) = %v, %v; want %v, %v", tt.cmd, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLevelAtLeast(t *testing.T) {
	if !Warning.AtLeast(Warning) || !Warning.AtLeast(Notice) || Notice.AtLeast(Warning) || !Notice.AtLeast(Notice) {
		t.Error("warning is at least notice; notice is not at least warning")
	}
}

// TestReadmeListsEveryRule: the rules table of docs/check.md (the README
// links it) names every rule and its level, so users can look up an id they see.
func TestReadmeListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "docs", "check.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		row := "| `" + r.ID + "` | " + string(r.Level) + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("docs/check.md has no row starting %q", row)
		}
	}
}
