package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// checkDeployment is Deployment ns/name of 1 replica with maxSurge 0 and a
// container serving port 8080 with no readinessProbe and no preStop: the
// write-up's "before" when a Service selects it.
func checkDeployment(ns, name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			},
		},
	}
}

func checkService(ns, name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
}

// runCheck runs `check args...` against a fake cluster of objs (its
// namespace "shop"), or, when objs is nil, with no cluster and -n shop, and
// returns stdout, stderr and the exit code Execute would give.
func runCheck(t *testing.T, stdin string, objs []runtime.Object, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	o := NewCheckOptions(genericclioptions.NewConfigFlags(false), streams)
	if objs == nil {
		*o.configFlags.Namespace = "shop"
	} else {
		o.clients = &clients{Kube: fake.NewClientset(objs...), Config: &rest.Config{Host: "https://127.0.0.1:6443"}, Namespace: "shop"}
	}
	cmd := newCmdCheck(o)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		code = exitFailure
		var exit *ExitError
		if errors.As(err, &exit) {
			code = exit.Code
		}
		errOut.WriteString("error: " + oneLine(err.Error()) + "\n")
	}
	return out.String(), errOut.String(), code
}

func checkReportOf(t *testing.T, out string) checkReport {
	t.Helper()
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	return r
}

func rulesOf(r checkReport) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Namespace+"/"+f.Deployment+":"+f.Rule)
	}
	return out
}

// TestCheckCluster: the rules on a namespace's objects, -l, -A, and the
// exit code --fail-on gives.
func TestCheckCluster(t *testing.T) {
	web := map[string]string{"app": "web"}
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
		checkDeployment("shop", "web", web),
		checkService("shop", "web", web),
		func() *appsv1.Deployment {
			d := checkDeployment("shop", "batch", map[string]string{"app": "batch"})
			d.Spec.Replicas = ptr.To[int32](3)
			return d
		}(),
		checkDeployment("other", "web", web), // no Service in "other"
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "web"},
			Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{}}},
	}

	out, errOut, code := runCheck(t, "", objs, "-o", "json")
	r := checkReportOf(t, out)
	want := []string{"shop/batch:no-pdb", "shop/web:rollout-drops-all-pods", "shop/web:no-readiness-probe", "shop/web:no-prestop"}
	if code != exitCheckFound || r.Deployments != 2 || !slices.Equal(rulesOf(r), want) {
		t.Errorf("check (namespace shop): exit %d, %d deployments, %q; want 1, 2, %q\n%s", code, r.Deployments, rulesOf(r), want, errOut)
	}
	if errOut != "error: checked 2 deployments: 3 warnings, 1 notice, at or above --fail-on warning\n" {
		t.Errorf("stderr %q", errOut)
	}

	// Only the notice: exit 0 under --fail-on warning, 1 under notice.
	for _, tt := range []struct {
		failOn string
		code   int
	}{{"warning", 0}, {"notice", 1}, {"never", 0}} {
		_, errOut, code := runCheck(t, "", objs, "-l", "app=batch", "--fail-on", tt.failOn)
		if code != tt.code {
			t.Errorf("-l app=batch --fail-on %s: exit %d; want %d (%s)", tt.failOn, code, tt.code, errOut)
		}
	}
	out, errOut, code = runCheck(t, "", objs, "-l", "app=batch", "--fail-on", "never")
	if code != 0 || !strings.HasPrefix(out, "DEPLOYMENT   LEVEL    RULE     CONTAINER   MESSAGE") || !strings.Contains(out, "batch        notice   no-pdb") ||
		errOut != "checked 1 deployment: 1 notice\n" {
		t.Errorf("table: exit %d\n%s%s", code, out, errOut)
	}

	// Another namespace: the argument. Its PDB with an empty selector
	// guards every pod; no Service, so nothing else applies.
	out, errOut, code = runCheck(t, "", objs, "other")
	if code != 0 || out != "" || errOut != "checked 1 deployment: nothing found\n" {
		t.Errorf("check other: exit %d, stdout %q, stderr %q; want 0, nothing, a summary", code, out, errOut)
	}

	// Every namespace: the NAMESPACE column.
	out, _, code = runCheck(t, "", objs, "-A")
	if code != exitCheckFound || !strings.HasPrefix(out, "NAMESPACE   DEPLOYMENT") || !strings.Contains(out, "shop        web") {
		t.Errorf("check -A: exit %d\n%s", code, out)
	}

	// A namespace that does not exist, or that has no Deployment.
	_, errOut, code = runCheck(t, "", objs, "nope")
	if code != exitCheckError || !strings.Contains(errOut, `namespace "nope" not found`) {
		t.Errorf("check nope: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCheck(t, "", objs, "-l", "app=none")
	if code != 0 || errOut != "no deployments found in namespace \"shop\"\n" {
		t.Errorf("check -l app=none: exit %d, %q", code, errOut)
	}
}

// TestCheckFiles: -f reads manifests, with no cluster at all, and gives the
// same findings as the cluster's objects would.
func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  strategy: {rollingUpdate: {maxSurge: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"shop/web:rollout-drops-all-pods", "shop/web:no-readiness-probe", "shop/web:no-prestop"}
	for _, args := range [][]string{
		{"-f", filepath.Join(dir, "web.yaml")},
		{"-f", dir},
		{"-f", "-"},
	} {
		// objs nil: no clients; the check must not need them.
		out, errOut, code := runCheck(t, manifest, nil, append(args, "-o", "json")...)
		r := checkReportOf(t, out)
		var got []string
		for _, f := range r.Findings {
			got = append(got, "shop/"+f.Deployment+":"+f.Rule)
		}
		if code != exitCheckFound || !slices.Equal(got, want) {
			t.Errorf("%q: exit %d, %q; want 1, %q (%s)", args, code, got, want, errOut)
		}
	}

	// The same objects from the cluster (defaulted there) give the same.
	d := checkDeployment("shop", "web", map[string]string{"app": "web"})
	_, _, code := runCheck(t, "", []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, d,
		checkService("shop", "web", map[string]string{"app": "web"})}, "-o", "json")
	if code != exitCheckFound {
		t.Errorf("the cluster's copy: exit %d; want 1", code)
	}

	// A Deployment the API server would refuse for its strategy is bad
	// input, placed.
	bad := strings.Replace(manifest, "maxSurge: 0", "maxSurge: 0, maxUnavailable: 0", 1)
	_, errOut, code := runCheck(t, bad, nil, "-f", "-")
	if code != exitCheckError || errOut != `error: stdin: document 1 (line 1): deployment "web": spec.strategy.rollingUpdate.maxSurge and maxUnavailable are both 0, which the API server refuses: set maxSurge: 1`+"\n" {
		t.Errorf("refused strategy: exit %d, %q", code, errOut)
	}
}

// TestCheckBadInput: every bad argument or flag is exit 2 and one line, all
// problems at once.
func TestCheckBadInput(t *testing.T) {
	cluster := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"a", "b"}, []string{`check takes one namespace, got 2 arguments: ["a" "b"]; give files with -f`}},
		{[]string{"shop", "-f", "x.yaml"}, []string{`a namespace ("shop") and -f exclude each other`}},
		{[]string{"-A", "-f", "x.yaml"}, []string{"-A and -f exclude each other"}},
		{[]string{"-A", "shop"}, []string{"-A and a namespace exclude each other"}},
		{[]string{"-R"}, []string{"-R reads the subdirectories of -f DIR: add -f or drop -R"}},
		{[]string{"-f", "-", "-f", "-"}, []string{"-f - is given more than once"}},
		{[]string{"-o", "yaml", "--fail-on", "error", "-l", "a in (b"}, []string{`unknown output format "yaml": use one of table, json`,
			`unknown --fail-on "error": use one of warning, notice, never`, `invalid --selector "a in (b"`}},
		{[]string{"--bogus"}, []string{"unknown flag: --bogus; see 'check --help'"}},
		{[]string{"-f", "/no/such/file.yaml"}, []string{"error: /no/such/file.yaml: no such file or directory"}},
	} {
		out, errOut, code := runCheck(t, "", cluster, tt.args...)
		if code != exitCheckError || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, nothing, one line", tt.args, code, out, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%q: %q does not say %q", tt.args, errOut, w)
			}
		}
	}
}

// TestCheckCompletions: -f completes manifest files, -o and --fail-on their
// values.
func TestCheckCompletions(t *testing.T) {
	const noFiles, fileExt = ":4", ":8"
	for _, tt := range []struct {
		args      []string
		want      string
		directive string
	}{
		{[]string{"check", "-f", ""}, "yaml yml json", fileExt},
		{[]string{"check", "-o", ""}, "table json", noFiles},
		{[]string{"check", "--fail-on", "n"}, "notice never", noFiles},
		{[]string{"check", "-l", ""}, "", noFiles},
	} {
		got, directive := complete(t, tt.args...)
		if strings.Join(got, " ") != tt.want || directive != tt.directive {
			t.Errorf("__complete %q: %q %s; want %q %s", tt.args, got, directive, tt.want, tt.directive)
		}
	}
}

// TestCheckExitCodesThroughExecute: the codes main exits with.
func TestCheckExitCodesThroughExecute(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: one}\nspec: {replicas: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A kubeconfig whose server nothing listens on: -f never needs it.
	cfg := kubeconfig(t)
	if code, out, errOut := execute(t, "--kubeconfig", cfg, "check", "-f", path); code != 0 || out != "" || errOut != "checked 1 deployment: nothing found\n" {
		t.Errorf("check -f ok.yaml: exit %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := execute(t, "--kubeconfig", cfg, "check", "-f", path, "--fail-on", "bad"); code != exitCheckError {
		t.Errorf("--fail-on bad: exit %d (%s); want 2", code, errOut)
	}
	if code, _, errOut := execute(t, "--kubeconfig", cfg, "check", "--nope"); code != exitCheckError || errOut != "error: unknown flag: --nope; see 'kubectl deploywatch check --help'\n" {
		t.Errorf("--nope: exit %d, %q; want 2", code, errOut)
	}
	// The cluster cannot be reached: 2, one line.
	if code, _, errOut := execute(t, "--kubeconfig", cfg, "check"); code != exitCheckError || !strings.Contains(errOut, "cannot reach the API server at https://127.0.0.1:1") {
		t.Errorf("check with the cluster down: exit %d, %q; want 2", code, errOut)
	}
}
