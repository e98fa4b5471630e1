package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// Terminal control sequences.
const (
	altScreenOn  = "\x1b[?1049h"
	altScreenOff = "\x1b[?1049l"
	cursorHide   = "\x1b[?25l"
	cursorShow   = "\x1b[?25h"
	home         = "\x1b[H"
	clearLine    = "\x1b[K"
	clearBelow   = "\x1b[J"
)

// RedrawInterval bounds how often the live table is redrawn: a burst of
// events becomes one redraw.
const RedrawInterval = 100 * time.Millisecond

// Live is the table on a terminal: redrawn in place on the alternate screen,
// at most every RedrawInterval, cut to the terminal's size. Close restores
// the screen and leaves the final table in the scrollback.
type Live struct {
	out   io.Writer
	o     Options
	title string
	size  func() (width, height int)

	mu      sync.Mutex
	health  tracker.Health         // the watch's; the zero value is live
	sources map[string]fanin.State // by context and namespace, with Options.Contexts
	rows    map[string]*liveRow
	synced  bool
	dirty   bool
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

type liveRow struct {
	summary deployment.Summary
	changed time.Time
}

// NewLive starts a live table on out. title names what is watched; size
// reports the terminal's size (columns, rows).
func NewLive(out io.Writer, o Options, title string, size func() (int, int)) *Live {
	p := &Live{
		out: out, o: o, title: title, size: size,
		rows: map[string]*liveRow{}, sources: map[string]fanin.State{}, dirty: true,
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	io.WriteString(out, altScreenOn+cursorHide)
	go p.loop()
	return p
}

// OnEvent records the change; the next redraw shows it.
func (p *Live) OnEvent(e deployment.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.Key()
	if e.Type == deployment.Deleted {
		delete(p.rows, key)
	} else {
		p.rows[key] = &liveRow{summary: e.Summary, changed: ChangedAt(&e)}
	}
	p.dirty = true
}

// OnHealth shows in the title whether the watch is live.
func (p *Live) OnHealth(h tracker.Health) {
	p.mu.Lock()
	p.health, p.dirty = h, true
	p.mu.Unlock()
}

// OnSource follows a source's state, for the line of its context under the
// title.
func (p *Live) OnSource(st fanin.State) {
	st.Snapshot = nil
	p.mu.Lock()
	p.sources[st.Context+"/"+st.Namespace], p.dirty = st, true
	p.mu.Unlock()
}

// OnSynced marks the table complete.
func (p *Live) OnSynced([]deployment.Summary) {
	p.mu.Lock()
	p.synced, p.dirty = true, true
	p.mu.Unlock()
}

func (p *Live) loop() {
	defer close(p.stopped)
	redraw := time.NewTicker(RedrawInterval)
	defer redraw.Stop()
	ages := time.NewTicker(time.Second) // the LAST CHANGE column moves on
	defer ages.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-ages.C:
			p.draw(true)
		case <-redraw.C:
			p.draw(false)
		}
	}
}

func (p *Live) draw(force bool) {
	p.mu.Lock()
	if p.closed || !(p.dirty || force) {
		p.mu.Unlock()
		return
	}
	p.dirty = false
	width, height := p.size()
	lines := p.linesLocked(width, height)
	p.mu.Unlock()
	io.WriteString(p.out, home+strings.Join(lines, clearLine+"\n")+clearLine+clearBelow)
}

// Frame returns the lines of one redraw for a terminal of the given size
// (height 0: no limit), as the screen would show them.
func (p *Live) Frame(width, height int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.linesLocked(width, height)
}

func (p *Live) linesLocked(width, height int) []string {
	now := p.o.now()
	keys := make([]string, 0, len(p.rows))
	counts := map[deployment.Status]int{}
	for k, r := range p.rows {
		keys = append(keys, k)
		counts[r.summary.Status]++
	}
	sort.Strings(keys)

	// While the watch is lost the clock stops: the title says since when
	// the rows may be stale, and why.
	clock := now.Format(time.TimeOnly)
	lost := p.health.State != "" && p.health.State != tracker.Live
	if lost {
		clock = fmt.Sprintf("%s since %s", p.health.State, p.health.Since.Local().Format(time.TimeOnly))
		if p.health.Err != nil {
			clock += ": " + strings.Join(strings.Fields(p.health.Err.Error()), " ")
		}
	}
	title := p.title + " · " + clock
	if !p.synced {
		title += " · loading…"
	} else {
		title += " · " + tally(len(keys), counts)
	}
	title = cut(title, width)
	if lost && p.o.Color {
		if i := strings.Index(title, " · "+string(p.health.State)); i >= 0 {
			i += len(" · ")
			end := len(title)
			if j := strings.Index(title[i:], " · "); j >= 0 {
				end = i + j
			}
			title = title[:i] + "\x1b[1;33m" + title[i:end] + "\x1b[0m" + title[end:]
		}
	}
	lines := []string{title}
	if p.o.Contexts {
		lines = append(lines, p.contextLinesLocked(width)...)
	}
	head := len(lines)
	if p.synced && len(keys) == 0 {
		return append(lines, "", "No deployments found.")
	}

	rows := make([][]string, len(keys))
	for i, k := range keys {
		r := p.rows[k]
		rows[i] = row(p.o, &r.summary, string(r.summary.Status), age(now.Sub(r.changed)))
	}
	table := render(header(p.o), rows)
	statusCol := 0
	if len(table) > 0 {
		statusCol = strings.Index(table[0], "STATUS")
	}
	room := len(table)
	if height > 0 && len(table)+head+1 > height {
		room = max(height-head-1, 1) // title, context lines and the "more" line
	}
	for i, l := range table[:room] {
		l = cut(l, width)
		if i > 0 && p.o.Color {
			l = paint(l, statusCol, p.rows[keys[i-1]].summary.Status)
		}
		lines = append(lines, l)
	}
	if room < len(table) {
		lines = append(lines, fmt.Sprintf("… %d more (enlarge the terminal, or filter with -l)", len(table)-room))
	}
	return lines
}

// contextLinesLocked is one line per context under the title: its
// Deployments counted by status, or why it cannot be seen now.
func (p *Live) contextLinesLocked(width int) []string {
	type ctxView struct {
		total   int
		counts  map[deployment.Status]int
		trouble string
	}
	views := map[string]*ctxView{}
	view := func(name string) *ctxView {
		if views[name] == nil {
			views[name] = &ctxView{counts: map[deployment.Status]int{}}
		}
		return views[name]
	}
	for _, r := range p.rows {
		v := view(r.summary.Context)
		v.total++
		v.counts[r.summary.Status]++
	}
	keys := make([]string, 0, len(p.sources))
	for k := range p.sources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st := p.sources[k]
		v := view(st.Context)
		if v.trouble != "" {
			continue
		}
		switch {
		case !st.Synced && st.Err != nil:
			v.trouble = fmt.Sprintf("unreachable since %s: %s", st.Since.Local().Format(time.TimeOnly), oneLine(st.Err.Error()))
		case !st.Synced:
			v.trouble = "loading…"
		case !st.Live():
			v.trouble = fmt.Sprintf("%s since %s", st.Health.State, st.Health.Since.Local().Format(time.TimeOnly))
			if st.Health.Err != nil {
				v.trouble += ": " + oneLine(st.Health.Err.Error())
			}
			v.trouble += " (its rows may be stale)"
		}
	}
	names := make([]string, 0, len(views))
	for n := range views {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := make([]string, 0, len(names))
	for _, n := range names {
		v := views[n]
		l := "  " + n + ": " + tally(v.total, v.counts)
		if v.trouble != "" {
			l += " · " + v.trouble
		}
		l = cut(l, width)
		if v.trouble != "" && v.trouble != "loading…" && p.o.Color {
			l = "\x1b[1;33m" + l + "\x1b[0m"
		}
		lines = append(lines, l)
	}
	return lines
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// tally reads "4 deployments: 3 Running, 1 Progressing".
func tally(total int, counts map[deployment.Status]int) string {
	parts := []string{}
	for _, s := range []deployment.Status{deployment.Failed, deployment.Failing, deployment.Degraded, deployment.Progressing, deployment.Scaling, deployment.Paused, deployment.Running, deployment.ScaledToZero, deployment.Deleting} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	noun := "deployments"
	if total == 1 {
		noun = "deployment"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", total, noun)
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, ", "))
}

// cut shortens s to width runes (0: no limit).
func cut(s string, width int) string {
	if width <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width == 1 {
		return "…"
	}
	return string(r[:width-1]) + "…"
}

// Close stops redrawing, restores the terminal and prints the final table
// once on the normal screen, so it stays in the scrollback.
func (p *Live) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.stopped
	width, _ := p.size()
	final := p.Frame(width, 0)
	_, err := io.WriteString(p.out, altScreenOff+cursorShow+strings.Join(final, "\n")+"\n")
	return err
}
