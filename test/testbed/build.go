package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// modulePath is the plugin's module, whose root holds test/testbed/build.sh.
const modulePath = "github.com/deploywatch/kubectl-deploywatch"

var binaries = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "test", "testbed", "build.sh"))
	cmd.Dir = root
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr // a cold build takes minutes: show its progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("test/testbed/build.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	dir := lines[len(lines)-1]
	if _, err := os.Stat(filepath.Join(dir, "kwokctl")); err != nil {
		return "", fmt.Errorf("test/testbed/build.sh printed %q, which holds no kwokctl: %w", dir, err)
	}
	return dir, nil
})

// Binaries runs test/testbed/build.sh once per process, which builds the
// control plane's binaries the first time and finds them in its cache after,
// and returns the directory that holds them.
func Binaries() (string, error) { return binaries() }

// moduleRoot finds the plugin module's root above the working directory,
// which `go test` sets to the package's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(gomod), []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the module " + modulePath + " is not above the working directory")
		}
		dir = parent
	}
}

var (
	pluginMu  sync.Mutex
	pluginDir string
	pluginErr error
)

// BuildPlugin builds ./cmd/kubectl-deploywatch once per test process and
// returns the directory that holds the binary, named kubectl-deploywatch so
// that kubectl finds it on PATH. Cluster.Env, Kubectl and KubectlCmd put the
// directory first on PATH once it is built, so `kubectl deploywatch` runs
// it. When the tests run with -race, so is the plugin built.
func BuildPlugin(t testing.TB) string {
	t.Helper()
	pluginMu.Lock()
	defer pluginMu.Unlock()
	if pluginDir == "" && pluginErr == nil {
		pluginDir, pluginErr = buildPlugin()
	}
	if pluginErr != nil {
		t.Fatalf("testbed: %v", pluginErr)
	}
	return pluginDir
}

func builtPluginDir() string {
	pluginMu.Lock()
	defer pluginMu.Unlock()
	return pluginDir
}

func buildPlugin() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	s, err := getSession()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.dir, "plugin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	args := []string{"build", "-o", filepath.Join(dir, "kubectl-deploywatch")}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/kubectl-deploywatch")
	cmd := exec.Command(goCommand(), args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return dir, nil
}

// raceEnabled says whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// goCommand is the go command: `go test` puts its GOROOT/bin first on the
// test's PATH.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
