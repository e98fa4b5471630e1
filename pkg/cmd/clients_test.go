package cmd

import (
	"testing"
)

// TestMissingContextSaidAlike: a --context the kubeconfig lacks is one line
// with the fix, the same whether -n is given or not (client-go says it in a
// typed error without -n, in an untyped one with it), for a command that
// reads the namespace and for one that takes it from -n alone; and so is a
// current-context that names no context.
func TestMissingContextSaidAlike(t *testing.T) {
	const want = "error: context was not found for specified context: nope; list the contexts with 'kubectl config get-contexts'\n"
	cfg := kubeconfig(t)
	for _, args := range [][]string{
		{"watch", "shop", "--context", "nope"},
		{"watch", "-n", "shop", "--context", "nope"},
		{"scale", "web", "--replicas=1", "--context", "nope"},
		{"scale", "web", "--replicas=1", "-n", "shop", "--context", "nope"},
		{"history", "web", "-n", "shop", "--context", "nope"},
	} {
		code, _, errOut := execute(t, append(args, "--kubeconfig", cfg)...)
		if code != 1 || errOut != want {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", args, code, errOut, want)
		}
	}
	gone := writeKubeconfig(t, "- name: ctx\n  context: {cluster: c, user: u}\ncurrent-context: nope\n")
	code, _, errOut := execute(t, "scale", "web", "--replicas=1", "--kubeconfig", gone)
	if code != 1 || errOut != want {
		t.Errorf("current-context nope: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
}
