package cmd

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// complete runs `__complete args...` as kubectl_complete-deploywatch does
// and returns the candidates (descriptions cut off) and the directive line.
func complete(t *testing.T, args ...string) (candidates []string, directive string) {
	t.Helper()
	code, out, errOut := execute(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d, stderr %q", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		candidates = append(candidates, name)
	}
	return candidates, lines[len(lines)-1]
}

// TestFlagCompletions: flags with a fixed set of values offer it, kubeconfig
// flags the kubeconfig's names, free values nothing (not the shell's file
// names), file flags file names; commands without arguments offer nothing.
// Names from the cluster are tested against a real one in test/e2e.
func TestFlagCompletions(t *testing.T) {
	cfg := kubeconfig(t)
	const noFiles, files = ":4", ":0"
	for _, tt := range []struct {
		args      []string
		want      string
		directive string
	}{
		{[]string{"-o", ""}, "table wide ndjson", noFiles},
		{[]string{"watch", "-o", "w"}, "wide", noFiles},
		{[]string{"history", "-o", ""}, "table json ndjson", noFiles},
		{[]string{"version", "-o", ""}, "json", noFiles},
		{[]string{"scale", "-o", "j"}, "json jsonpath jsonpath-as-json jsonpath-file", noFiles},
		{[]string{"set-image", "--dry-run="}, "none client server", noFiles},
		{[]string{"serve", "--notify-format", ""}, "json slack", noFiles},
		{[]string{"serve", "--notify-on", "failed,"}, "failed,recovered failed,started failed,completed failed,failing", noFiles},
		{[]string{"--kubeconfig", cfg, "--context", ""}, "ctx", noFiles},
		{[]string{"--kubeconfig", cfg, "scale", "--cluster", ""}, "c", noFiles},
		{[]string{"--kubeconfig", cfg, "--user", ""}, "u", noFiles},
		{[]string{"scale", "--replicas", ""}, "", noFiles},
		{[]string{"--timeout", ""}, "", noFiles},
		{[]string{"--kubeconfig", ""}, "", files},
		{[]string{"serve", "--token-file", ""}, "", files},
		{[]string{"serve", ""}, "", noFiles},
		{[]string{"version", ""}, "", noFiles},
		// The cluster cannot be reached: no names, no error.
		{[]string{"--kubeconfig", cfg, "-n", ""}, "", noFiles},
		{[]string{"--kubeconfig", cfg, "scale", ""}, "", noFiles},
	} {
		got, directive := complete(t, tt.args...)
		if strings.Join(got, " ") != tt.want || directive != tt.directive {
			t.Errorf("__complete %q: %q %s; want %q %s", tt.args, got, directive, tt.want, tt.directive)
		}
	}
}

func TestCommaList(t *testing.T) {
	for _, tt := range []struct{ typed, want string }{
		{"", "a b c"},
		{"b", "b"},
		{"a,", "a,b a,c"},
		{"a,c,b", "a,c,b"},
		{"a,c,x", ""},
	} {
		if got := strings.Join(commaList([]string{"a", "b", "c"}, tt.typed), " "); got != tt.want {
			t.Errorf("commaList(%q) = %q; want %q", tt.typed, got, tt.want)
		}
	}
}

// TestCompletionHelpExplainsKubectl: each completion command's help says
// first how `kubectl deploywatch` completes (kubectl's own completion and
// kubectl_complete-deploywatch on PATH), not only cobra's setup for the
// binary run by its own name.
func TestCompletionHelpExplainsKubectl(t *testing.T) {
	for _, shell := range []string{"", "bash", "zsh", "fish", "powershell"} {
		args := []string{"completion", "--help"}
		load := "kubectl completion --help"
		if shell != "" {
			args = []string{"completion", shell, "--help"}
			load = "kubectl completion " + shell
		}
		code, out, errOut := execute(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d, %s", args, code, errOut)
		}
		first, _, _ := strings.Cut(out, "Generate the autocompletion script")
		for _, want := range []string{`"kubectl deploywatch ..."`, "kubectl_complete-deploywatch from PATH", load, "make install"} {
			if !strings.Contains(first, want) {
				t.Errorf("%q: the help does not say %q before cobra's text:\n%s", args, want, out)
			}
		}
	}
}

// TestWorkloadNames: each kind lists its own workloads of the namespace,
// and none of another kind or namespace.
func TestWorkloadNames(t *testing.T) {
	meta := func(name, ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	kube := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: meta("web", "shop")}, &appsv1.Deployment{ObjectMeta: meta("api", "shop")},
		&appsv1.Deployment{ObjectMeta: meta("other", "elsewhere")},
		&appsv1.StatefulSet{ObjectMeta: meta("db", "shop")},
		&appsv1.DaemonSet{ObjectMeta: meta("agent", "shop")},
	)
	for kind, want := range map[operations.Kind][]string{
		operations.Deployment:  {"api", "web"},
		operations.StatefulSet: {"db"},
		operations.DaemonSet:   {"agent"},
	} {
		got, err := workloadNames(context.Background(), kube, "shop", kind)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%v: %q, %v; want %q", kind, got, err, want)
		}
	}
}
