package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// raceProxy is an HTTP proxy in front of the shared test bed's API server
// that can hold one request of the plugin while the test writes to the
// cluster: a real race, with the other writer's change landing exactly
// between the plugin's read and its write. The plugin talks plain HTTP to
// the proxy, which forwards with the test bed's admin credentials; nothing
// in the plugin knows it is tested.
type raceProxy struct {
	srv *httptest.Server

	mu    sync.Mutex
	hooks []raceHook
	seen  []string // "METHOD path?query" of every request, in order
}

// raceHook runs before the first request that matches forwards.
type raceHook struct {
	match func(*http.Request) bool
	run   func()
}

func newRaceProxy(t *testing.T) *raceProxy {
	t.Helper()
	cfg := testbed.Shared().RESTConfig()
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &raceProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport:     transport,
		FlushInterval: -1, // watches stream
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.before(r)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// on runs fn, once, before the first request that match accepts is
// forwarded; the request waits for fn.
func (p *raceProxy) on(match func(*http.Request) bool, fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hooks = append(p.hooks, raceHook{match, fn})
}

func (p *raceProxy) before(r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.URL.RequestURI())
	var run func()
	for i, h := range p.hooks {
		if h.match(r) {
			run = h.run
			p.hooks = append(p.hooks[:i:i], p.hooks[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	if run != nil {
		run()
	}
}

// requests returns what the plugin sent so far.
func (p *raceProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// env points the plugin at the proxy, in namespace ns.
func (p *raceProxy) env(t *testing.T, ns string) []string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.srv.URL}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy", Namespace: ns}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"KUBECONFIG=" + path}
}

// isPatchOf matches the plugin's PATCH of Deployment name in ns.
func isPatchOf(ns, name string) func(*http.Request) bool {
	path := "/apis/apps/v1/namespaces/" + ns + "/deployments/" + name
	return func(r *http.Request) bool { return r.Method == http.MethodPatch && r.URL.Path == path }
}
