package webui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// checkHeaders: the security headers, and for a file no-cache (the file
// server drops caching headers from its errors).
func checkHeaders(t *testing.T, target string, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	if resp.StatusCode == http.StatusOK {
		want["Cache-Control"] = "no-cache"
	}
	for k, want := range want {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET %s: %s %q, want %q", target, k, got, want)
		}
	}
}

// TestEveryFileServed: the page and each of its files, with the type a
// browser checks (a module script with another type does not run) and the
// same security and caching headers.
func TestEveryFileServed(t *testing.T) {
	names, err := fs.Glob(static, "static/*")
	if err != nil || len(names) < 4 {
		t.Fatalf("embedded files: %v %v", names, err)
	}
	want := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, name := range append(names, "static/") {
		target := strings.TrimPrefix(name, "static")
		if target == "/index.html" {
			continue // the file server sends it to "/"
		}
		resp, body := get(t, target)
		ext := path.Ext(name)
		if target == "/" {
			ext = ".html"
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != want[ext] || body == "" {
			t.Errorf("GET %s: %d %q, %d bytes; want 200 %q", target, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), want[ext])
		}
		checkHeaders(t, target, resp)
	}
	if _, page := get(t, "/"); !strings.Contains(page, `<script src="app.js" type="module">`) {
		t.Errorf("the page does not load app.js as a module")
	}
}

// TestNotFound: a name the page does not have, or one no file system can
// hold, is a 404 (not a 500, not a JavaScript type), with the security
// headers; the unit tests and package.json beside the files are not served.
func TestNotFound(t *testing.T) {
	for _, target := range []string{"/nope.js", "/test/sorting.test.js", "/package.json", "/webui.go", "/%ff.js"} {
		resp, _ := get(t, target)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s: %d %q, want 404 as text", target, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		checkHeaders(t, target, resp)
	}
}

// TestModulesResolve: every module a module imports is embedded, and the
// page preloads each module app.js needs (all but app.js itself), so a
// module added, renamed or removed cannot leave the page broken or slow.
func TestModulesResolve(t *testing.T) {
	modules, _ := fs.Glob(static, "static/*.js")
	importRe := regexp.MustCompile(`(?m)^import\s[^"]*"([^"]+)";`)
	for _, m := range modules {
		src, _ := fs.ReadFile(static, m)
		for _, imp := range importRe.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasPrefix(imp[1], "./") {
				t.Errorf("%s imports %q: the page loads only its own modules, as ./NAME.js", m, imp[1])
				continue
			}
			if _, err := fs.Stat(static, path.Join("static", imp[1])); err != nil {
				t.Errorf("%s imports %s, which is not embedded", m, imp[1])
			}
		}
	}
	page, _ := fs.ReadFile(static, "static/index.html")
	var preloaded []string
	for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="([^"]+)">`).FindAllStringSubmatch(string(page), -1) {
		preloaded = append(preloaded, "static/"+m[1])
	}
	want := slices.DeleteFunc(slices.Clone(modules), func(m string) bool { return m == "static/app.js" })
	slices.Sort(preloaded)
	if !slices.Equal(preloaded, want) {
		t.Errorf("index.html preloads %v, want every module but app.js: %v", preloaded, want)
	}
}
