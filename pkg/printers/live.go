package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
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
	health  tracker.Health // the watch's; the zero value is live
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
		rows: map[string]*liveRow{}, dirty: true,
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
	if height > 0 && len(table)+2 > height {
		room = max(height-2, 1) // title and the "more" line
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
