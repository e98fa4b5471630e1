package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// eventSourceVersion is the npm eventsource package the tests use: a real
// EventSource client no one here wrote.
const eventSourceVersion = "4.1.1"

var eventSourceOnce struct {
	sync.Once
	dir string
	err error
}

// eventSourceModule installs the npm eventsource package once into the
// user's cache (npm's registry is reachable from CI) and returns the path to
// require.
func eventSourceModule(t *testing.T) string {
	t.Helper()
	eventSourceOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			eventSourceOnce.err = err
			return
		}
		dir := filepath.Join(cache, "kubectl-deploywatch", "npm", "eventsource-"+eventSourceVersion)
		module := filepath.Join(dir, "node_modules", "eventsource")
		if _, err := os.Stat(filepath.Join(module, "package.json")); err == nil {
			eventSourceOnce.dir = module
			return
		}
		// Installed beside, then renamed: a half-done install is never used.
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			eventSourceOnce.err = err
			return
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
		if err != nil {
			eventSourceOnce.err = err
			return
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", tmp, "eventsource@"+eventSourceVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			eventSourceOnce.err = &installError{err: err, out: string(out)}
			return
		}
		if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
			if _, statErr := os.Stat(module); statErr != nil {
				eventSourceOnce.err = err
				return
			}
		}
		eventSourceOnce.dir = module
	})
	if eventSourceOnce.err != nil {
		t.Fatalf("installing npm eventsource@%s (needs node and npm): %v", eventSourceVersion, eventSourceOnce.err)
	}
	return eventSourceOnce.dir
}

type installError struct {
	err error
	out string
}

func (e *installError) Error() string { return e.err.Error() + ": " + e.out }

// esLine is one line the client printed.
type esLine struct {
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	Data       string  `json:"data"`
	Code       *int    `json:"code"`
	Message    string  `json:"message"`
	ReadyState float64 `json:"readyState"`
}

// esClient is a running npm eventsource client following one stream.
type esClient struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *syncBuffer

	mu    sync.Mutex
	lines []esLine
	state sseView
}

// startEventSource follows url with the npm eventsource package, sending
// token as a bearer token; it is killed when the test ends.
func startEventSource(t *testing.T, url, token string) *esClient {
	t.Helper()
	module := eventSourceModule(t)
	script, err := filepath.Abs(filepath.Join("testdata", "eventsource-client.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script, url)
	cmd.Env = append(os.Environ(), "EVENTSOURCE_MODULE="+module, "DEPLOYWATCH_TOKEN="+token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &esClient{cmd: cmd, exited: make(chan struct{}), stderr: &syncBuffer{}, state: sseView{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			c.add(t, sc.Text())
		}
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.exited
		if t.Failed() {
			t.Logf("eventsource client of %s printed:\n%s\nstderr: %s", url, c.transcript(), c.stderr.String())
		}
	})
	return c
}

func (c *esClient) add(t *testing.T, text string) {
	var l esLine
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		t.Errorf("eventsource client printed %q: %v", text, err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, l)
	if _, err := c.state.apply(l.Type, l.Data); err != nil {
		t.Error(err)
	}
}

// view is the Deployments as the client's events tell them.
func (c *esClient) view() map[string]deployment.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.state)
}

// seen returns the types of the lines printed so far.
func (c *esClient) seen() []esLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]esLine(nil), c.lines...)
}

// alive reports whether the client is still running: a standard
// EventSource that gave up ends the script.
func (c *esClient) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *esClient) transcript() string {
	var b strings.Builder
	for _, l := range c.seen() {
		data := l.Data
		if len(data) > 200 {
			data = data[:200] + "…"
		}
		b.WriteString(l.Type + " " + l.ID + " " + data + " " + l.Message + "\n")
	}
	return b.String()
}
