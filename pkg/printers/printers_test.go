package printers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func event(typ deployment.EventType, ns, name string, status deployment.Status, ready, desired int32, image string) deployment.Event {
	return deployment.Event{
		Type: typ, Time: t0,
		Summary: deployment.Summary{
			Namespace: ns, Name: name, Status: status,
			Replicas:   deployment.Replicas{Desired: desired, Current: desired, Updated: desired, Ready: ready, Available: ready},
			Containers: []deployment.Container{{Name: "web", Image: image}},
			Generation: 2, ObservedGeneration: 2,
		},
		Changed: []string{},
	}
}

func TestNDJSONWritesOneWholeLinePerEvent(t *testing.T) {
	var writes []string
	w := writerFunc(func(p []byte) (int, error) { writes = append(writes, string(p)); return len(p), nil })
	p := NewNDJSON(w)
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 3, 3, "nginx:1"))
	p.OnEvent(event(deployment.Modified, "shop", "web", deployment.Scaling, 3, 5, "nginx:1"))
	p.OnSynced(nil)
	if len(writes) != 2 {
		t.Fatalf("%d writes, want one per event: %q", len(writes), writes)
	}
	for _, line := range writes {
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Errorf("write %q is not exactly one line", line)
		}
		var e deployment.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Name != "web" {
			t.Errorf("write %q does not decode to the event: %v", line, err)
		}
	}
}

func TestNDJSONStopsAtTheFirstWriteError(t *testing.T) {
	broken := errors.New("write |1: broken pipe")
	calls := 0
	p := NewNDJSON(writerFunc(func([]byte) (int, error) { calls++; return 0, broken }))
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"))
	p.OnEvent(event(deployment.Added, "shop", "api", deployment.Running, 1, 1, "nginx:1"))
	if calls != 1 || !errors.Is(p.Close(), broken) {
		t.Fatalf("%d writes and Close() = %v, want 1 write and the pipe error", calls, p.Close())
	}
}

func TestStreamPrintsOneTableThenAlignedRows(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{})
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 3, 3, "nginx:1"))
	p.OnEvent(event(deployment.Added, "shop", "payments-api", deployment.Running, 2, 2, "registry.example.com/pay:2"))
	if out.Len() != 0 {
		t.Fatalf("printed before the first sync: %q", out.String())
	}
	p.OnSynced(nil)
	p.OnEvent(event(deployment.Modified, "shop", "web", deployment.Scaling, 3, 5, "nginx:1"))
	d := event(deployment.Deleted, "shop", "payments-api", deployment.Running, 2, 2, "registry.example.com/pay:2")
	p.OnEvent(d)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want header, 2 rows, 2 changes:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], "NAME") || strings.Count(out.String(), "NAME") != 1 {
		t.Errorf("want one header first:\n%s", out.String())
	}
	// Every column starts where the header's does.
	col := strings.Index(lines[0], "STATUS")
	for i, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("line %d's STATUS is not aligned at column %d:\n%s", i+1, col, out.String())
		}
	}
	if !strings.Contains(lines[3], "Scaling") || !strings.Contains(lines[3], "3/5") {
		t.Errorf("the change row is %q, want web Scaling 3/5", lines[3])
	}
	if !strings.Contains(lines[4], "Deleted") {
		t.Errorf("the deletion row is %q, want status Deleted", lines[4])
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %q has trailing blanks", l)
		}
	}
}

func TestStreamWaitsForTheFirstRowToPrintTheHeader(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{AllNamespaces: true, Wide: true})
	p.OnSynced(nil)
	if out.Len() != 0 {
		t.Fatalf("an empty first table printed %q, want nothing", out.String())
	}
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Progressing, 0, 3, "nginx:1"))
	p.OnEvent(event(deployment.Modified, "shop", "web", deployment.Running, 3, 3, "nginx:1"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAMESPACE") {
		t.Fatalf("want a header with NAMESPACE then two rows:\n%s", out.String())
	}
	for _, h := range []string{"CONTAINERS", "GENERATION"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("-o wide header lacks %s: %q", h, lines[0])
		}
	}
	if !strings.Contains(lines[2], "2/2") || !strings.Contains(lines[2], "shop") {
		t.Errorf("wide row %q lacks the namespace or generations", lines[2])
	}
}

func TestLiveFrame(t *testing.T) {
	now := t0.Add(90 * time.Second)
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }}, `deployments in namespace "shop"`, func() (int, int) { return 0, 0 })
	defer p.Close()

	if f := p.Frame(0, 0); !strings.Contains(f[0], "loading") {
		t.Errorf("before the sync the title is %q, want it to say loading", f[0])
	}
	p.OnSynced(nil)
	if f := p.Frame(0, 0); len(f) != 3 || f[2] != "No deployments found." {
		t.Errorf("an empty namespace shows %q", f)
	}

	for i, name := range []string{"a", "b", "c", "d", "e"} {
		e := event(deployment.Added, "shop", name, deployment.Running, 1, 1, "nginx:1")
		if i == 4 {
			e.Status = deployment.Failed
		}
		p.OnEvent(e)
	}
	p.OnEvent(event(deployment.Deleted, "shop", "d", deployment.Running, 1, 1, "nginx:1"))
	f := p.Frame(0, 0)
	if want := `deployments in namespace "shop" · 08:01:30 · 4 deployments: 1 Failed, 3 Running`; f[0] != want {
		t.Errorf("title = %q, want %q", f[0], want)
	}
	if len(f) != 6 || !strings.HasPrefix(f[1], "NAME") || !strings.HasPrefix(f[5], "e ") {
		t.Fatalf("want title, header and rows a, b, c, e:\n%s", strings.Join(f, "\n"))
	}
	if !strings.HasSuffix(f[2], " 1m30s") {
		t.Errorf("LAST CHANGE of a 90 s old change reads %q", f[2])
	}

	// A small terminal: rows cut to its width, the rest counted.
	small := p.Frame(20, 4)
	if len(small) != 4 || !strings.HasPrefix(small[3], "… 3 more") {
		t.Errorf("a 4-row terminal shows:\n%s", strings.Join(small, "\n"))
	}
	for _, l := range small[:3] {
		if n := len([]rune(l)); n > 20 {
			t.Errorf("line %q is %d runes wide on a 20-column terminal", l, n)
		}
	}
}

func TestLiveTitleSaysWhileTheWatchIsLost(t *testing.T) {
	now := t0.Add(90 * time.Second)
	for _, color := range []bool{false, true} {
		p := NewLive(&syncWriter{}, Options{Color: color, Now: func() time.Time { return now }}, `deployments in namespace "shop"`, func() (int, int) { return 0, 0 })
		p.OnSynced(nil)
		p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"))
		lostAt := t0.Add(30 * time.Second)
		p.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: lostAt, Err: errors.New("dial tcp: connect:\nconnection refused")})
		lost := "reconnecting since " + lostAt.Local().Format(time.TimeOnly) + ": dial tcp: connect: connection refused"
		want := `deployments in namespace "shop" · ` + lost + ` · 1 deployment: 1 Running`
		if color {
			want = `deployments in namespace "shop" · ` + "\x1b[1;33m" + lost + "\x1b[0m" + ` · 1 deployment: 1 Running`
		}
		if f := p.Frame(0, 0); f[0] != want {
			t.Errorf("color %v: title while lost = %q, want %q (the clock stops)", color, f[0], want)
		}
		p.OnHealth(tracker.Health{State: tracker.Live, Since: now})
		if f := p.Frame(0, 0); f[0] != `deployments in namespace "shop" · `+now.Local().Format(time.TimeOnly)+` · 1 deployment: 1 Running` {
			t.Errorf("color %v: title once live again = %q", color, f[0])
		}
		p.Close()
	}
}

func TestLastChangeOfAnAddedRowIsSinceWhenItIsInItsState(t *testing.T) {
	now := t0.Add(90 * time.Second)
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	failed := event(deployment.Added, "shop", "api", deployment.Failed, 0, 1, "nginx:1")
	failed.Time = now
	failed.Since = now.Add(-41 * time.Minute) // failed long before the watch started
	fresh := event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1")
	fresh.Time = now // nothing recorded: when first seen
	p.OnEvent(failed)
	p.OnEvent(fresh)
	p.OnSynced(nil)
	f := p.Frame(0, 0)
	if !strings.HasSuffix(f[2], " 41m0s") || !strings.HasSuffix(f[3], " 0s") {
		t.Errorf("LAST CHANGE of a row Failed for 41m and of a fresh one:\n%s", strings.Join(f, "\n"))
	}
	// A change deploywatch sees is dated when it saw it.
	mod := event(deployment.Modified, "shop", "api", deployment.Running, 1, 1, "nginx:1")
	mod.Time, mod.Since = now.Add(-time.Second), now.Add(-time.Hour)
	p.OnEvent(mod)
	if f := p.Frame(0, 0); !strings.HasSuffix(f[2], " 1s") {
		t.Errorf("LAST CHANGE after a change seen 1s ago: %q", f[2])
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 59 * time.Second: "59s", 90 * time.Second: "1m30s",
		25*time.Hour + 5*time.Minute: "25h5m", 72 * time.Hour: "3d",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestLiveColorsOnlyWhenAsked(t *testing.T) {
	for _, color := range []bool{false, true} {
		p := NewLive(&syncWriter{}, Options{Color: color}, "t", func() (int, int) { return 0, 0 })
		p.OnSynced(nil)
		p.OnEvent(event(deployment.Added, "shop", "web", deployment.Failed, 0, 1, "nginx:1"))
		row := p.Frame(0, 0)[2]
		if got := strings.Contains(row, "\x1b[1;31mFailed"); got != color {
			t.Errorf("Color=%v: row %q painted=%v", color, row, got)
		}
		p.Close()
	}
}

func TestLiveRedrawsInPlaceAndLeavesTheTableOnClose(t *testing.T) {
	out := &syncWriter{}
	p := NewLive(out, Options{}, "t", func() (int, int) { return 80, 24 })
	p.OnSynced(nil)
	p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 3, 3, "nginx:1"))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), home) {
		if time.Now().After(deadline) {
			t.Fatalf("no redraw within 10s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s := out.String()
	if !strings.HasPrefix(s, altScreenOn) {
		t.Errorf("the live table does not start on the alternate screen: %q", s[:min(len(s), 20)])
	}
	i := strings.LastIndex(s, altScreenOff+cursorShow)
	if i < 0 {
		t.Fatalf("Close did not restore the screen and cursor: %q", s)
	}
	final := s[i+len(altScreenOff+cursorShow):]
	if strings.Contains(final, "\x1b") || !strings.Contains(final, "web") || !strings.HasSuffix(final, "\n") {
		t.Errorf("the table left on the normal screen is %q, want plain text with web", final)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// syncWriter is a buffer safe for the redraw goroutine and the test.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestStreamSkipsRowsThatRepeatTheLastOne: an event that changes only what
// the piped table does not show (current, unavailable) prints nothing; a
// later change of a shown column prints, and so does a Deployment made
// again under a deleted one's name.
func TestStreamSkipsRowsThatRepeatTheLastOne(t *testing.T) {
	for _, o := range []Options{{}, {Wide: true, AllNamespaces: true}} {
		var out bytes.Buffer
		p := NewStream(&out, o)
		p.OnEvent(event(deployment.Added, "shop", "web", deployment.Scaling, 3, 5, "nginx:1"))
		hidden := event(deployment.Added, "shop", "web", deployment.Scaling, 3, 5, "nginx:1") // before the first table, too
		hidden.Replicas.Current = 4
		p.OnEvent(hidden)
		p.OnSynced(nil)
		for _, change := range []func(*deployment.Event){
			func(e *deployment.Event) { e.Replicas.Current = 5 },
			func(e *deployment.Event) { e.Replicas.Unavailable = 2 },
			func(e *deployment.Event) { e.Time = e.Time.Add(time.Minute) }, // LAST CHANGE alone
		} {
			e := event(deployment.Modified, "shop", "web", deployment.Scaling, 3, 5, "nginx:1")
			change(&e)
			p.OnEvent(e)
		}
		p.OnEvent(event(deployment.Modified, "shop", "web", deployment.Running, 5, 5, "nginx:1"))
		p.OnEvent(event(deployment.Deleted, "shop", "web", deployment.Running, 5, 5, "nginx:1"))
		p.OnEvent(event(deployment.Added, "shop", "web", deployment.Running, 5, 5, "nginx:1"))

		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		var statuses []string
		for _, l := range lines[1:] {
			statuses = append(statuses, strings.Fields(l)[map[bool]int{false: 1, true: 2}[o.AllNamespaces]])
		}
		if got, want := strings.Join(statuses, ","), "Scaling,Running,Deleted,Running"; got != want {
			t.Errorf("%+v: rows %s, want %s:\n%s", o, got, want, out.String())
		}
	}
}

// TestLiveGivesMessageItsRoomAt80Columns: on an 80-column terminal a Failed
// row's reason shows, and LAST CHANGE stays, though another row has an
// IMAGES cell as long as the screen: IMAGES and the replica counts give
// way first.
func TestLiveGivesMessageItsRoomAt80Columns(t *testing.T) {
	now := t0.Add(90 * time.Second)
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	failed := event(deployment.Added, "shop", "api", deployment.Failed, 0, 3, "registry.example.com/team/api:1.9")
	failed.Message = "ProgressDeadlineExceeded: ReplicaSet \"api-7d9f\" has timed out progressing."
	long := event(deployment.Added, "shop", "web", deployment.Running, 3, 3, strings.Repeat("registry.example.com/x/", 4)+"web:1")
	p.OnEvent(long)
	p.OnEvent(failed)
	p.OnSynced(nil)
	f := p.Frame(80, 24)
	for _, l := range f {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line %q is %d runes wide", l, n)
		}
	}
	if !strings.Contains(f[1], "LAST CHANGE") || !strings.Contains(f[1], "MESSAGE") {
		t.Errorf("the header lacks LAST CHANGE or MESSAGE: %q", f[1])
	}
	if !strings.HasPrefix(f[2], "api") || !strings.Contains(f[2], "ProgressDeadlineExceeded: ReplicaSet") || !strings.Contains(f[2], "1m30s") {
		t.Errorf("the Failed row does not show its reason and age:\n%s", strings.Join(f, "\n"))
	}
	// A wide terminal shows every column again.
	if f := p.Frame(250, 24); !strings.Contains(f[1], "IMAGES") || !strings.Contains(f[1], "UP-TO-DATE") || !strings.Contains(f[3], "web:1") {
		t.Errorf("a 250-column terminal drops columns:\n%s", strings.Join(f, "\n"))
	}
}

// TestLiveKeepsRowsSortedAsTheyCome: rows in namespace, then name order
// whatever the events' order (namespace "a" before "a-b", which a sort of
// "namespace/name" keys would invert), a deletion and a re-creation in
// place.
func TestLiveKeepsRowsSortedAsTheyCome(t *testing.T) {
	p := NewLive(&syncWriter{}, Options{AllNamespaces: true}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	for _, k := range [][2]string{{"b", "x"}, {"a-b", "a"}, {"a", "z"}, {"b", "a"}, {"a", "m"}, {"c", "c"}} {
		p.OnEvent(event(deployment.Added, k[0], k[1], deployment.Running, 1, 1, "nginx:1"))
	}
	p.OnEvent(event(deployment.Deleted, "c", "c", deployment.Running, 1, 1, "nginx:1"))
	p.OnEvent(event(deployment.Modified, "a", "z", deployment.Scaling, 1, 2, "nginx:1"))
	p.OnSynced(nil)
	var got []string
	for _, l := range p.Frame(0, 0)[2:] {
		f := strings.Fields(l)
		got = append(got, f[0]+"/"+f[1])
	}
	if want := []string{"a/m", "a/z", "a-b/a", "b/a", "b/x"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestLiveKeepsContextsApart: the same namespace and name in two contexts
// are two rows, sorted by context first, and a change or a deletion in one
// context leaves the other's row as it was.
func TestLiveKeepsContextsApart(t *testing.T) {
	p := NewLive(&syncWriter{}, Options{AllNamespaces: true, Contexts: true}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	in := func(typ deployment.EventType, ctx, name string, status deployment.Status) {
		e := event(typ, "shop", name, status, 1, 1, "nginx:1")
		e.Context = ctx
		p.OnEvent(e)
	}
	in(deployment.Added, "west", "web", deployment.Running)
	in(deployment.Added, "east", "web", deployment.Running)
	in(deployment.Added, "west", "api", deployment.Running)
	in(deployment.Added, "east", "api", deployment.Running)
	in(deployment.Modified, "west", "web", deployment.Scaling)
	in(deployment.Deleted, "east", "api", deployment.Running)
	p.OnSynced(nil)
	var got []string
	for _, l := range p.Frame(0, 0) {
		if f := strings.Fields(l); len(f) > 3 && (f[0] == "east" || f[0] == "west") && f[1] == "shop" {
			got = append(got, f[0]+"/"+f[2]+"/"+f[3])
		}
	}
	if want := []string{"east/web/Running", "west/api/Running", "west/web/Scaling"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestLiveRedrawsOnlyWhatIsVisible: with more Deployments than the terminal
// has rows, a change to one off screen that leaves the title as it was asks
// for no redraw; one on screen does, and the redraw rewrites its line alone.
func TestLiveRedrawsOnlyWhatIsVisible(t *testing.T) {
	out := &syncWriter{}
	p := NewLive(out, Options{Now: func() time.Time { return t0 }}, "t", func() (int, int) { return 120, 10 })
	defer p.Close()
	for i := range 100 {
		p.OnEvent(event(deployment.Added, "shop", fmt.Sprintf("app-%03d", i), deployment.Running, 1, 1, "nginx:1"))
	}
	p.OnSynced(nil)
	p.draw(false)
	p.mu.Lock()
	shown, dirty := p.shown, p.dirty
	p.mu.Unlock()
	if shown != 7 || dirty {
		t.Fatalf("a 10-row terminal shows %d rows (dirty %v), want 7", shown, dirty)
	}
	p.OnEvent(event(deployment.Modified, "shop", "app-050", deployment.Running, 1, 1, "nginx:2"))
	p.mu.Lock()
	dirty = p.dirty
	p.mu.Unlock()
	if dirty {
		t.Errorf("a change off screen that leaves the title as it was asks for a redraw")
	}
	before := len(out.String())
	p.OnEvent(event(deployment.Modified, "shop", "app-003", deployment.Running, 1, 1, "nginx:2"))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String()[before:], "nginx:2") {
		if time.Now().After(deadline) {
			t.Fatalf("the change on screen was not redrawn: %q", out.String()[before:])
		}
		time.Sleep(10 * time.Millisecond)
	}
	written := out.String()[before:]
	if !strings.Contains(written, "\x1b[6;1H") || strings.Contains(written, "app-002") || strings.Contains(written, home) {
		t.Errorf("the redraw of line 6 wrote %q, want that line alone", written)
	}
}

// TestStreamWithoutInitialRowsAligns: with --initial=false the first row
// printed is a change, yet the columns are as wide as the existing
// Deployments' rows need, so the rows that follow line up with it.
func TestStreamWithoutInitialRowsAligns(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{})
	short := event(deployment.Added, "shop", "a", deployment.Running, 1, 1, "nginx:1")
	long := event(deployment.Added, "shop", "payments-api-long", deployment.Running, 2, 2, "registry.example.com/pay:2")
	p.OnSynced([]deployment.Summary{short.Summary, long.Summary})
	if out.Len() != 0 {
		t.Fatalf("printed before any change: %q", out.String())
	}
	p.OnEvent(event(deployment.Modified, "shop", "a", deployment.Scaling, 1, 3, "nginx:1"))
	p.OnEvent(event(deployment.Modified, "shop", "payments-api-long", deployment.Progressing, 2, 2, "registry.example.com/pay:3"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two rows:\n%s", out.String())
	}
	for _, col := range []string{"STATUS", "READY", "IMAGES", "LAST CHANGE"} {
		at := strings.Index(lines[0], col)
		for _, l := range lines[1:] {
			if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
				t.Errorf("%s is not aligned at column %d:\n%s", col, at, out.String())
			}
		}
	}
}

// TestLiveEmptyNamesTheKinds: the live table's empty line is the one the
// command gives (--kind sts: no StatefulSet), not "No deployments found.".
func TestLiveEmptyNamesTheKinds(t *testing.T) {
	p := NewLive(&syncWriter{}, Options{Empty: "No statefulsets found."}, `statefulsets in namespace "shop"`, func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSynced(nil)
	if f := p.Frame(0, 0); len(f) != 3 || f[2] != "No statefulsets found." {
		t.Errorf("an empty view of StatefulSets shows %q", f)
	}
}
