package cmd

import (
	"strings"
	"testing"
)

// twoContexts writes a kubeconfig with contexts east and west, both on a
// port where nothing listens.
func twoContexts(t *testing.T) string {
	t.Helper()
	return writeKubeconfig(t, `- name: east
  context: {cluster: c, user: u, namespace: shop}
- name: west
  context: {cluster: c, user: u, namespace: shop}
current-context: east
`)
}

func TestSeveralContextsFlags(t *testing.T) {
	cfg := twoContexts(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "web", "--replicas", "2", "--kubeconfig", cfg, "--context", "east", "--context", "west"}, `--context "east,west" names several contexts, and this command acts on one at a time`},
		{[]string{"set-image", "web", "app=nginx:2", "--kubeconfig", cfg, "--context", "east,west"}, "acts on one at a time"},
		{[]string{"watch", "--kubeconfig", cfg, "--context", "east,west", "--server", "https://127.0.0.1:2"}, "--server applies to one context"},
		{[]string{"watch", "--kubeconfig", cfg, "--context", "east,nope"}, `context "nope" not found in the kubeconfig`},
		{[]string{"watch", "--kubeconfig", cfg, "--all-contexts", "--context", "east"}, "--all-contexts and --context exclude each other"},
		{[]string{"watch", "--kubeconfig", cfg, "-n", "a", "--namespaces", "b"}, "namespaces given twice"},
		{[]string{"serve", "--kubeconfig", cfg, "--context", "east,west", "--auth", "kubernetes"}, "--auth=kubernetes serves one context"},
		{[]string{"serve", "--kubeconfig", cfg, "--all-contexts", "--notify-webhook", "https://hooks.example/x"}, "--notify-webhook watches one context"},
		{[]string{"serve", "--kubeconfig", cfg, "--context", "east,west", "--user", "u"}, "--user applies to one context"},
		{[]string{"serve", "--kubeconfig", cfg, "--context", "east,nope"}, `context "nope" not found in the kubeconfig`},
		{[]string{"serve", "--kubeconfig", cfg, "--all-contexts", "--context", "east"}, "--all-contexts and --context exclude each other"},
	} {
		code, _, errOut := execute(t, tt.args...)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestUnreachableContextsFailTheWait: contexts never reached during the
// whole --until-complete wait are an error (exit 1) naming each, and each
// was told on stderr as it failed.
func TestUnreachableContextsFailTheWait(t *testing.T) {
	code, out, errOut := execute(t, "watch", "--kubeconfig", twoContexts(t), "--all-contexts", "-o", "ndjson",
		"--until-complete", "--timeout", "2s", "--context-timeout", "1s")
	if code != exitFailure || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{
		`warning: cannot watch deployments in namespace "shop" in context "east" since`,
		`warning: cannot watch deployments in namespace "shop" in context "west" since`,
		"cannot reach the API server at https://127.0.0.1:1",
		`error: could not watch namespace "shop" in context "east" (`,
		`namespace "shop" in context "west" (`,
		"during the whole wait of 2s; every other deployment is complete",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
