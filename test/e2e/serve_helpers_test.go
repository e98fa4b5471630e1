package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// serveProc is a running `kubectl deploywatch serve`.
type serveProc struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	line   string // what it printed once listening
	token  string
	stderr *syncBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// syncBuffer is a bytes.Buffer safe for a writer and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servingLine is what serve prints once listening: the URL with the token
// in its fragment, or, for a token from a file, where the token is, or with
// --auth=kubernetes that each user signs in; with -n, the URL names the
// namespace's view first (#/ns/NS?token=).
var servingLine = regexp.MustCompile(`Serving Deployments on (http://[^/\s]+)/(?:#/ns/[^?\s]+)?(?:[#?]token=(\S+)| \(token from (\S+?);.*\)| \(sign in with your own Kubernetes token.*\))$`)

// startServe runs `kubectl deploywatch serve --address 127.0.0.1:0 args...`
// against the shared cluster and waits for the URL it prints. It is stopped
// with SIGTERM when the test ends; its logs are shown if the test failed.
func startServe(t *testing.T, args ...string) *serveProc {
	return startServeEnv(t, nil, args...)
}

func startServeEnv(t *testing.T, env []string, args ...string) *serveProc {
	t.Helper()
	return startServeUnder(t, nil, env, args...)
}

// startServeUnder is startServeEnv run by a wrapper command, e.g. prlimit.
func startServeUnder(t *testing.T, wrapper []string, env []string, args ...string) *serveProc {
	t.Helper()
	testbed.BuildPlugin(t)
	cmd := testbed.Shared().KubectlCmd(context.Background(), append([]string{"deploywatch", "serve", "--address", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	if len(wrapper) > 0 {
		path, err := exec.LookPath(wrapper[0])
		if err != nil {
			t.Fatal(err)
		}
		cmd.Args = append(append(slices.Clone(wrapper), cmd.Path), cmd.Args[1:]...)
		cmd.Path = path
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("serve's log:\n%s", p.stderr.String())
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		m := servingLine.FindStringSubmatch(line)
		if !ok || m == nil {
			t.Fatalf("serve printed %q, want its URL; stderr:\n%s", line, p.stderr.String())
		}
		p.base, p.line = m[1], line
		switch {
		case m[2] != "":
			p.token, _ = url.QueryUnescape(m[2])
		case m[3] == "": // --auth=kubernetes: each request says whose it is
		default:
			b, err := os.ReadFile(m[3])
			if err != nil {
				t.Fatalf("serve says the token is in %s: %v", m[3], err)
			}
			p.token = strings.TrimSpace(string(b))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve printed no URL within 2 minutes; stderr:\n%s", p.stderr.String())
	}
	go func() {
		for range lines { // nothing more is expected; keep the pipe drained
		}
	}()
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		// kubectl runs the plugin with exec, so the exit is the plugin's own.
		if p.err != nil {
			t.Errorf("serve exited with %v after SIGTERM", p.err)
		}
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		t.Errorf("serve did not exit within a minute of SIGTERM")
	}
}

// request sends a request to serve and returns the status and body.
func (p *serveProc) request(t *testing.T, method, path, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	p.authorize(req, header)
	for k, v := range header {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (p *serveProc) auth() map[string]string {
	return map[string]string{"Authorization": "Bearer " + p.token}
}

// noAuth is a header that leaves the token out of a request.
var noAuth = map[string]string{"Authorization": ""}

// authorize gives an API request serve's token, as every client that may
// use the API has it, unless header says otherwise (noAuth, another token).
func (p *serveProc) authorize(req *http.Request, header map[string]string) {
	if _, ok := header["Authorization"]; !ok && strings.HasPrefix(req.URL.Path, "/api/") && p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
}

// metric reads one unlabelled (or fully labelled) sample from serve's /metrics.
func (p *serveProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	status, body := p.request(t, "GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	return sample(t, string(body), name)
}

func sample(t *testing.T, text, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no metric %s in:\n%s", name, text)
	return 0
}

// deploymentWatches counts the watches on Deployments the API server has
// open, from its own metrics.
func deploymentWatches(t *testing.T) int {
	t.Helper()
	return deploymentWatchesIn(t, testbed.Shared())
}

// deploymentWatchesIn is deploymentWatches of cluster c.
func deploymentWatchesIn(t *testing.T, c *testbed.Cluster) int {
	t.Helper()
	out := c.Kubectl(t, "get", "--raw", "/metrics")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "apiserver_longrunning_requests{") &&
			strings.Contains(line, `resource="deployments"`) && strings.Contains(line, `verb="WATCH"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}

// createDeployment creates a Deployment of kwok-run pods and returns it.
func createDeployment(t *testing.T, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	return createDeploymentSpec(t, ns, name, replicas, nil)
}

// createDeploymentSpec is createDeployment with a say in the pod spec.
func createDeploymentSpec(t *testing.T, ns, name string, replicas int32, edit func(*corev1.PodSpec)) *appsv1.Deployment {
	t.Helper()
	d, err := testbed.Clientset(t).AppsV1().Deployments(ns).Create(context.Background(),
		testutil.Deployment(name, testutil.Replicas(replicas), testutil.PodSpec(edit)), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
	return d
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := testbed.Clientset(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, name, err)
	}
	return d
}

// waitRolledOut waits until the Deployment's controller has settled, so
// that its resourceVersion stays put.
func waitRolledOut(t *testing.T, ns, name string) {
	t.Helper()
	testbed.Kubectl(t, "-n", ns, "rollout", "status", "deployment/"+name, "--timeout=60s")
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// sseStream reads an event stream in a goroutine.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{} // closed when the stream ends
	retry  string
	mu     sync.Mutex
	err    error
}

// openStream connects to a namespace's stream; header may carry
// Last-Event-ID. It fails the test unless the answer is 200.
func (p *serveProc) openStream(t *testing.T, ns string, header map[string]string) *sseStream {
	t.Helper()
	s, status, body := p.tryStream(t, ns, header)
	if status != 200 {
		t.Fatalf("stream %s: %d %s", ns, status, body)
	}
	return s
}

func (p *serveProc) tryStream(t *testing.T, ns string, header map[string]string) (*sseStream, int, []byte) {
	t.Helper()
	return p.tryStreamURL(t, p.base+"/api/namespaces/"+ns+"/deployments/stream", header)
}

// openStreamPath is openStream for a path of the caller's, with a query.
func (p *serveProc) openStreamPath(t *testing.T, path string) *sseStream {
	t.Helper()
	s, status, body := p.tryStreamURL(t, p.base+path, nil)
	if status != 200 {
		t.Fatalf("stream %s: %d %s", path, status, body)
	}
	return s
}

func (p *serveProc) tryStreamURL(t *testing.T, url string, header map[string]string) (*sseStream, int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.authorize(req, header)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	// One connection per stream, as browsers have, and no shared pool.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("stream %s: %v", url, err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, b
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), done: make(chan struct{})}
	t.Cleanup(s.close)
	go s.read()
	return s, 200, nil
}

func (s *sseStream) read() {
	defer close(s.done)
	defer close(s.events)
	r := bufio.NewReader(s.resp.Body)
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.Event != "" {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "retry: "):
			s.mu.Lock()
			s.retry = strings.TrimPrefix(line, "retry: ")
			s.mu.Unlock()
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next returns the next event, failing the test after timeout.
func (s *sseStream) next(t *testing.T, timeout time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("stream ended: %v", s.err)
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
	}
	return sseEvent{}
}

// until reads events until cond holds for one, failing after timeout.
func (s *sseStream) until(t *testing.T, timeout time.Duration, what string, cond func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended before %s: %v", what, s.err)
			}
			if cond(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s within %s", what, timeout)
		}
	}
}

// snapshotOf decodes a snapshot event's data.
func snapshotOf(t *testing.T, ev sseEvent) []deployment.Event {
	t.Helper()
	if ev.Event != "snapshot" {
		t.Fatalf("got event %q, want snapshot", ev.Event)
	}
	var out []deployment.Event
	if err := json.Unmarshal([]byte(ev.Data), &out); err != nil {
		t.Fatalf("snapshot data %q: %v", ev.Data, err)
	}
	return out
}

func eventOf(t *testing.T, ev sseEvent) deployment.Event {
	t.Helper()
	var out deployment.Event
	if err := json.Unmarshal([]byte(ev.Data), &out); err != nil {
		t.Fatalf("event data %q: %v", ev.Data, err)
	}
	return out
}

// desiredIs matches an upsert of Deployment name with the given desired replicas.
func desiredIs(t *testing.T, name string, replicas int32) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		if ev.Event != "upsert" {
			return false
		}
		e := eventOf(t, ev)
		return e.Name == name && e.Replicas.Desired == replicas
	}
}

// apiErr decodes an error body and checks its status and reason.
func apiErr(t *testing.T, what string, status int, body []byte, wantStatus int, wantReason string) {
	t.Helper()
	var e struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: status %d, body is not JSON: %q", what, status, body)
	}
	if status != wantStatus || e.Reason != wantReason || e.Error == "" {
		t.Fatalf("%s: got %d %q %q, want %d %q", what, status, e.Reason, e.Error, wantStatus, wantReason)
	}
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
