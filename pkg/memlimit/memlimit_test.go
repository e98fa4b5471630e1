package memlimit

import (
	"bytes"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// TestNearAndBackOnce: one line when memory crosses 90% of the limit, none
// while it stays between 80% and 90%, one when it falls below 80%; the
// gauge follows.
func TestNearAndBackOnce(t *testing.T) {
	var out bytes.Buffer
	used := int64(0)
	w := New(100<<20, "cgroup", func() int64 { return used }, slog.New(slog.NewTextHandler(&out, nil)))
	steps := []struct {
		mib   int64
		near  float64
		lines int
	}{
		{50, 0, 0}, {89, 0, 0}, {91, 1, 1}, {95, 1, 1}, {85, 1, 1}, {91, 1, 1}, {79, 0, 2}, {85, 0, 2}, {90, 1, 3},
	}
	for _, s := range steps {
		used = s.mib << 20
		w.Check()
		if got := value(t, w.nearGauge); got != s.near {
			t.Errorf("at %d MiB of 100: near %v, want %v", s.mib, got, s.near)
		}
		if got := strings.Count(out.String(), "\n"); got != s.lines {
			t.Errorf("at %d MiB of 100: %d log lines, want %d:\n%s", s.mib, got, s.lines, out.String())
		}
	}
	if !strings.Contains(out.String(), `level=WARN msg="memory near its limit: raise the limit`) || !strings.Contains(out.String(), "inUse=91MiB limit=100MiB limitFrom=cgroup") {
		t.Errorf("log:\n%s", out.String())
	}
	if got := value(t, w.inUseGauge); got != 90<<20 {
		t.Errorf("in use %v, want %v", got, 90<<20)
	}
}

// TestNoLimitNeverNear: without a limit nothing is logged, whatever is used.
func TestNoLimitNeverNear(t *testing.T) {
	var out bytes.Buffer
	w := New(0, "", func() int64 { return 1 << 40 }, slog.New(slog.NewTextHandler(&out, nil)))
	w.Check()
	if out.Len() != 0 || value(t, w.nearGauge) != 0 || value(t, w.limitGauge) != 0 {
		t.Errorf("no limit: logged %q, near %v", out.String(), value(t, w.nearGauge))
	}
}

func TestLimitIsTheLower(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	if n, from := Limit(0); n != 0 || from != "" {
		t.Errorf("neither: %d %q", n, from)
	}
	if n, from := Limit(256 << 20); n != 256<<20 || from != "cgroup" {
		t.Errorf("cgroup only: %d %q", n, from)
	}
	debug.SetMemoryLimit(200 << 20)
	if n, from := Limit(256 << 20); n != 200<<20 || from != "GOMEMLIMIT" {
		t.Errorf("both, GOMEMLIMIT lower: %d %q", n, from)
	}
	if n, from := Limit(128 << 20); n != 128<<20 || from != "cgroup" {
		t.Errorf("both, cgroup lower: %d %q", n, from)
	}
	if InUse() <= 0 {
		t.Errorf("in use %d", InUse())
	}
}
