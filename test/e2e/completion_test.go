package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// kubectlComplete runs `kubectl __complete deploywatch words...`, what a
// shell's completion script runs on <TAB>, with dir first on PATH (before
// the plugin's), and returns the candidates (descriptions cut off) and
// kubectl's directive line.
func kubectlComplete(t *testing.T, dir string, words ...string) (candidates []string, directive string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := testbed.Shared().KubectlCmd(ctx, append([]string{"__complete", "deploywatch"}, words...)...)
	for i, kv := range cmd.Env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok && dir != "" {
			cmd.Env[i] = "PATH=" + dir + string(os.PathListSeparator) + path
		}
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl __complete deploywatch %q: %v", words, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		candidates = append(candidates, name)
	}
	return candidates, lines[len(lines)-1]
}

// TestCompletionThroughKubectl: with the repository's
// kubectl_complete-deploywatch on PATH, as docs/install.md and the krew caveats
// install it, kubectl 1.32's own completion (`kubectl __complete`, which
// bash, zsh, fish and PowerShell call) offers the plugin's subcommands, the
// cluster's namespaces and a namespace's Deployments; without it, nothing.
func TestCompletionThroughKubectl(t *testing.T) {
	testbed.BuildPlugin(t)
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createDeployment(t, ns, "api", 1)
	createStatefulSet(t, ns, "db", 1, false, nil)
	createDaemonSet(t, ns, "agent", nil)

	script, err := os.ReadFile(filepath.Join("..", "..", "kubectl_complete-deploywatch"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubectl_complete-deploywatch"), script, 0o755); err != nil {
		t.Fatal(err)
	}

	// kubectl knows the plugin's name from PATH, but nothing after it.
	if got, _ := kubectlComplete(t, "", "sc"); len(got) != 0 {
		t.Errorf("without the completion script, kubectl completed %q", got)
	}

	subcommands := []string{"check", "history", "pause", "restart", "resume", "scale", "serve", "set-image", "undo", "version", "watch"}
	got, directive := kubectlComplete(t, dir, "")
	for _, want := range append(subcommands, ns, "default", "kube-system") {
		if !slices.Contains(got, want) {
			t.Errorf("kubectl deploywatch <TAB> offers %q; want %s among them", got, want)
		}
	}
	if directive != ":4" {
		t.Errorf("directive %s; want :4 (no file names)", directive)
	}

	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"s"}, []string{"scale", "serve", "set-image"}},
		{[]string{"watch", ns[:len(ns)-2]}, []string{ns}},
		{[]string{"-n", ns[:len(ns)-2]}, []string{ns}},
		{[]string{"--namespace=" + ns, "--until-complete", ns[:len(ns)-2]}, []string{ns}},
		{[]string{"scale", "-n", ns, ""}, []string{"api", "web"}},
		{[]string{"-n", ns, "set-image", "w"}, []string{"web"}},
		{[]string{"set-image", "-n", ns, "web", ""}, []string{"app="}},
		{[]string{"set-image", "-n", ns, "web", "app="}, nil},
		{[]string{"set-image", "-n", ns, "web", "app=nginx:1", ""}, nil},
		{[]string{"history", "-n", ns, "--revision", "1", ""}, []string{"api", "web"}},
		{[]string{"restart", "-n", ns, "web", ""}, []string{"api"}},
		{[]string{"scale", "-n", ns, "web", ""}, nil},
		{[]string{"scale", "-n", ns, "--dry-run=server", "--replicas", ""}, nil},
		{[]string{"watch", "-o", ""}, []string{"table", "wide", "ndjson"}},
		// Other kinds after kubectl's TYPE/, written as typed.
		{[]string{"scale", "-n", ns, "sts/"}, []string{"sts/db"}},
		{[]string{"undo", "-n", ns, "statefulset/d"}, []string{"statefulset/db"}},
		{[]string{"restart", "-n", ns, "ds/"}, []string{"ds/agent"}},
		{[]string{"restart", "-n", ns, "ds/agent", "deploy/"}, []string{"deploy/api", "deploy/web"}},
		{[]string{"set-image", "-n", ns, "sts/db", ""}, []string{"app="}},
		{[]string{"scale", "-n", ns, "rs/"}, nil},
	} {
		want := ":4" // no file names
		if slices.ContainsFunc(tt.want, func(s string) bool { return strings.HasSuffix(s, "=") }) {
			want = ":6" // and no space after CONTAINER=, where the image follows
		}
		got, directive := kubectlComplete(t, dir, tt.words...)
		if !slices.Equal(got, tt.want) || directive != want {
			t.Errorf("kubectl __complete deploywatch %q: %q %s; want %q %s", tt.words, got, directive, tt.want, want)
		}
	}
}

// TestCompletionHelpThroughKubectl: `kubectl deploywatch completion bash
// --help`, as a user asks it, says that kubectl's own completion and
// kubectl_complete-deploywatch complete `kubectl deploywatch`.
func TestCompletionHelpThroughKubectl(t *testing.T) {
	testbed.BuildPlugin(t)
	out := testbed.Kubectl(t, "deploywatch", "completion", "bash", "--help")
	first, _, _ := strings.Cut(out, "Generate the autocompletion script")
	for _, want := range []string{"kubectl_complete-deploywatch from PATH", "source <(kubectl completion bash)", "bash-completion"} {
		if !strings.Contains(first, want) {
			t.Errorf("completion bash --help does not say %q first:\n%s", want, out)
		}
	}
}
