package e2e

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeEndsWithoutAnAPIServer: with no kubeconfig, with its own address
// as the API server's, and against a stopped test-bed cluster, serve ends
// within a few seconds, non-zero, with one line naming the problem, as the
// other commands do; it never starts serving.
func TestServeEndsWithoutAnAPIServer(t *testing.T) {
	testbed.BuildPlugin(t)
	noConfig := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "missing"), "HOME=" + t.TempDir()}
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(free.Addr().(*net.TCPAddr).Port)
	free.Close() // serve takes it next

	stopped := testbed.Start(t)
	server := stopped.RESTConfig().Host
	if err := stopped.StopCluster(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		cluster *testbed.Cluster
		env     []string
		args    []string
		want    string
	}{
		{"KUBECONFIG names a missing file", testbed.Shared(), noConfig, []string{"--address", "127.0.0.1:0"},
			"error: cannot reach the API server at http://localhost:8080: connection refused; check that the cluster is running"},
		{"KUBECONFIG is empty", testbed.Shared(), []string{"KUBECONFIG=", "HOME=" + t.TempDir()}, []string{"--address", "127.0.0.1:0"},
			"error: cannot reach the API server at http://localhost:8080: connection refused"},
		{"the API server is serve's own address", testbed.Shared(), noConfig, []string{"--address", "127.0.0.1:" + port, "--server", "http://localhost:" + port},
			"error: the API server at http://localhost:" + port + " is serve's own address 127.0.0.1:" + port},
		{"the cluster is stopped", stopped, nil, []string{"--address", "127.0.0.1:0"},
			"error: cannot reach the API server at " + server + ": connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := tt.cluster.KubectlCmd(ctx, append([]string{"deploywatch", "serve"}, tt.args...)...)
			cmd.Env = append(cmd.Env, tt.env...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if err == nil {
				t.Fatalf("serve exited 0; stdout %q, stderr %q", out.String(), errOut.String())
			}
			if took > 6*time.Second {
				t.Errorf("serve took %s to end, want a few seconds", took)
			}
			if out.Len() > 0 {
				t.Errorf("serve printed %q: it started", out.String())
			}
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
				t.Errorf("serve said:\n%s\nwant one line starting %q", errOut.String(), tt.want)
			}
			t.Logf("%s: exit %v in %s: %s", tt.name, err, took.Round(time.Millisecond), lines[0])
		})
	}
}

// TestServeLogsRequestsOnlyWhenAsked: a default session logs no request
// lines, so the URL with the token stays in sight; --log-requests logs
// each one. The logs are read after serve stopped ("stopped" is its last
// line), so every line of the session is in them.
func TestServeLogsRequestsOnlyWhenAsked(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	for _, tt := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--log-requests"}, true}} {
		p := startServe(t, tt.args...)
		for _, path := range []string{"/", "/api/info", "/api/namespaces", "/api/namespaces/" + ns + "/deployments"} {
			if status, body := p.request(t, "GET", path, "", p.auth()); status != 200 {
				t.Fatalf("GET %s: %d %s", path, status, body)
			}
		}
		// A change: its audit line is kept either way.
		status, body := p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 2}`, p.auth())
		if status != 200 {
			t.Fatalf("scale: %d %s", status, body)
		}
		p.stop(t)
		log := p.stderr.String()
		if !strings.Contains(log, "msg=stopped") || !strings.Contains(log, "msg=changed") {
			t.Fatalf("serve %v: no stop or change line in its log:\n%s", tt.args, log)
		}
		var requests []string
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "msg=request ") {
				requests = append(requests, line)
			}
		}
		if !tt.want {
			if len(requests) > 0 {
				t.Errorf("serve without --log-requests logged %d request lines:\n%s", len(requests), strings.Join(requests, "\n"))
			}
			continue
		}
		for _, path := range []string{"/api/info", "/api/namespaces/" + ns + "/deployments", "/api/namespaces/" + ns + "/deployments/web/scale"} {
			found := false
			for _, line := range requests {
				found = found || strings.Contains(line, "path="+path+" ")
			}
			if !found {
				t.Errorf("serve --log-requests logged no line for %s:\n%s", path, log)
			}
		}
	}
}
