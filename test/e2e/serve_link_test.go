package e2e

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeLinkFromAnotherSite: chromium follows a link to serve's page from
// another site's page (a wiki, a chat): a cross-site top-level navigation.
// The page opens and works; the API still refuses cross-site requests.
func TestServeLinkFromAnotherSite(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t)

	// The other site: another host name (localhost, not 127.0.0.1), so
	// another site to the browser.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wiki := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>wiki</title><a id="dash" href="%s">the dashboard</a>`, html.EscapeString(p.base+"/#token="+p.token))
	})}
	go func() { _ = wiki.Serve(ln) }()
	t.Cleanup(func() { wiki.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	ctx := newBrowser(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate("http://localhost:"+port+"/")); err != nil {
		t.Fatalf("open the wiki: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#dash")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`))); err != nil {
		t.Fatalf("follow the link to the page: %v (page text: %s)", err, pageText(ctx))
	}

	// What the browser sent for that navigation, as raw HTTP: the page, but
	// not the API.
	nav := map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
	if status, body := p.request(t, "GET", "/", "", nav); status != 200 || !strings.Contains(string(body), "<html") {
		t.Errorf("GET / as a cross-site navigation: %d %.200s", status, body)
	}
	for _, path := range []string{"/api/namespaces", "/api/namespaces/" + ns + "/deployments"} {
		status, body := p.request(t, "GET", path, "", nav)
		apiErr(t, "a cross-site navigation to "+path, status, body, 403, "ForeignOrigin")
	}
	scale := map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": "http://localhost:" + port}
	status, body := p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 2}`, scale)
	apiErr(t, "a cross-site change", status, body, 403, "ForeignOrigin")
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 1 {
		t.Errorf("web has %d replicas; a cross-site request changed it", got)
	}
}
