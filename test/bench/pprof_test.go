package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// With BENCH_PPROF=1, serve runs with net/http/pprof on pprofAddr and the
// fan-out saves a CPU profile of its changes and a heap profile after them
// under bin/bench-pprof/ (go tool pprof FILE).
var pprofAddr = func() string {
	if os.Getenv("BENCH_PPROF") == "" {
		return ""
	}
	return "127.0.0.1:16060"
}()

var pprofServe = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("deploywatch-pprofserve-%d", os.Getpid()))
	out, err := exec.Command("go", "build", "-o", bin, "./pprofserve").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./pprofserve: %w\n%s", err, out)
	}
	return bin, nil
})

func buildPprofServe(t testing.TB) string {
	t.Helper()
	bin, err := pprofServe()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// profile starts a CPU profile of serve and returns what ends it and saves
// it with a heap profile; without BENCH_PPROF it does nothing. Only one
// serve at a time may be profiled: they share pprofAddr.
func profile(t testing.TB, name string) (stop func()) {
	if pprofAddr == "" {
		return func() {}
	}
	dir := filepath.Join("..", "..", "bin", "bench-pprof")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(path, file string) {
		resp, err := http.Get("http://" + pprofAddr + path)
		if err != nil {
			t.Logf("pprof %s: %v", path, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
		t.Logf("saved %s", f.Name())
	}
	// The changes take about this long; the profile covers them (and, if
	// they end sooner, some idle time after).
	done := make(chan struct{})
	go func() {
		defer close(done)
		save("/debug/pprof/profile?seconds=20", name+"-cpu.pb.gz")
	}()
	return func() {
		save("/debug/pprof/heap?gc=1", name+"-heap.pb.gz")
		<-done
	}
}
