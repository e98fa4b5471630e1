package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIThroughKubectl runs the plugin the way users find it, through
// kubectl's plugin discovery: help, version and shell completion.
func TestCLIThroughKubectl(t *testing.T) {
	help := opsRun(t, "--help")
	if help.code != 0 {
		t.Fatalf("--help exited %d", help.code)
	}
	opsContains(t, "--help", help.stdout, "kubectl deploywatch [NAMESPACE]", "watch", "scale", "set-image", "serve", "version", "completion", "--kubeconfig", "--context", "-n, --namespace")

	v := opsRun(t, "version", "-o", "json")
	var info map[string]string
	if v.code != 0 || json.Unmarshal([]byte(v.stdout), &info) != nil || info["version"] == "" || info["commit"] == "" {
		t.Errorf("version -o json: exit %d, %q; want version and commit", v.code, v.stdout)
	}

	bash := opsRun(t, "completion", "bash")
	if bash.code != 0 || !strings.Contains(bash.stdout, "__start_kubectl-deploywatch") {
		t.Errorf("completion bash: exit %d, script lacks its start function", bash.code)
	}
}
