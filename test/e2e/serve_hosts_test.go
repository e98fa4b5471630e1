package e2e

import (
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeAllowedHosts: a Service's or Ingress's host name reaches serve
// once named with --allowed-hosts, for reads and for changes; any other name
// is still refused (DNS rebinding).
func TestServeAllowedHosts(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t, "--allowed-hosts", "deploywatch.deploywatch.svc,dash.example.com")

	for host, want := range map[string]int{
		"deploywatch.deploywatch.svc":    200,
		"dash.example.com:443":           200,
		"evil.example.com":               403,
		"deploywatch.deploywatch.svc.cx": 403,
	} {
		if status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", map[string]string{"Host": host}); status != want {
			t.Errorf("Host %s: status %d, want %d: %s", host, status, want, body)
		}
	}
	header := p.auth()
	header["Host"] = "dash.example.com"
	header["Origin"] = "https://dash.example.com"
	if status, body := p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 2}`, header); status != 200 {
		t.Fatalf("scale through an allowed host: status %d: %s", status, body)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 2 {
		t.Errorf("replicas = %d after the scale, want 2", got)
	}
}
