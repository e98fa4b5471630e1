package e2e

import (
	"strings"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

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
