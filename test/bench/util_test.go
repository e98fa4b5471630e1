package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
)

// report collects the suite's tables in the order they were measured.
type report struct {
	mu       sync.Mutex
	sections []section
}

type section struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (r *report) add(s section) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sections = append(r.sections, s)
}

func (r *report) markdown() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, s := range r.sections {
		fmt.Fprintf(&b, "### %s\n\n", s.title)
		b.WriteString(tableRow(s.head))
		seps := make([]string, len(s.head))
		for i := range seps {
			seps[i] = "---"
		}
		b.WriteString(tableRow(seps))
		for _, row := range s.rows {
			b.WriteString(tableRow(row))
		}
		for _, n := range s.notes {
			b.WriteString("\n" + n + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func tableRow(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }

// machine describes where the figures come from.
func machine() string {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	out, _ := exec.Command("nproc").Output()
	return fmt.Sprintf("nproc %s, %s, load average %s", strings.TrimSpace(string(out)), cpu, loadavg())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

// percentile is the nearest-rank percentile p (0-100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

// procStatus reads a field of /proc/PID/status in kB (VmRSS, VmHWM).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// cpuTime is the user and system time PID has used, from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// apiMetrics returns the API server's /metrics.
func apiMetrics(t testing.TB, cs kubernetes.Interface) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("the API server's /metrics: %v", err)
	}
	return string(b)
}

// sumMetric adds up the samples of a metric whose lines hold every one of
// the labels given (as `resource="deployments"`).
func sumMetric(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// deploymentWatches counts the Deployment watches the API server has open,
// as test/e2e's helper of the same name does.
func deploymentWatches(t testing.TB, cs kubernetes.Interface) int {
	return int(sumMetric(apiMetrics(t, cs), "apiserver_longrunning_requests", `resource="deployments"`, `verb="WATCH"`))
}

// proc is a command whose standard output is read as it comes, each piece
// stamped with the time it was read.
type proc struct {
	cmd    *exec.Cmd
	name   string
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLines starts cmd and calls onLine for every line of its standard
// output, with the time the line was read. It is killed when the test ends.
func startLines(t testing.TB, name string, cmd *exec.Cmd, onLine func(line []byte, at time.Time)) *proc {
	t.Helper()
	return startReader(t, name, cmd, func(r io.Reader) {
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				onLine(line, time.Now())
			}
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	})
}

// startJSON starts cmd and calls onValue for every JSON value of its
// standard output (kubectl's -o json prints them indented, over many lines).
func startJSON(t testing.TB, name string, cmd *exec.Cmd, onValue func(v map[string]any, at time.Time)) *proc {
	t.Helper()
	return startReader(t, name, cmd, func(r io.Reader) {
		dec := json.NewDecoder(r)
		for {
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				return
			}
			onValue(v, time.Now())
		}
	})
}

func startReader(t testing.TB, name string, cmd *exec.Cmd, read func(io.Reader)) *proc {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, name: name, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		read(out)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop kills the process and waits for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
	_ = p.cmd.Wait()
}

// buildRawWatch builds the raw client-go watch of ./rawwatch.
func buildRawWatch(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rawwatch")
	out, err := exec.Command("go", "build", "-o", bin, "./rawwatch").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./rawwatch: %v\n%s", err, out)
	}
	return bin
}

// inParallel runs do(i) for every i in [first, last) on workers goroutines
// and fails t with how many of what failed, and the first error.
func inParallel(t testing.TB, workers, first, last int, what string, do func(i int) error) {
	t.Helper()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := do(i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	for i := first; i < last; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d %s failed; the first: %v", n, last-first, what, firstErr.Load())
	}
}
