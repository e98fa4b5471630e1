package printers

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// maxServiceGapLines bounds the lines under the title for Services that
// select no pod: the table stays on screen.
const maxServiceGapLines = 3

// RedrawInterval bounds how often the live table is redrawn: a burst of
// events becomes one redraw.
const RedrawInterval = 100 * time.Millisecond

// Live is the table on a terminal: redrawn in place on the alternate screen,
// at most every RedrawInterval, cut to the terminal's size. Close restores
// the screen and leaves the final table in the scrollback.
//
// A frame costs what it shows, not what exists: the rows are kept sorted as
// events come (a binary search, no sort per frame), only the rows that fit
// the terminal are laid out, an event that changes nothing on screen asks
// for no redraw, and a redraw writes only the lines that changed.
type Live struct {
	out   io.Writer
	o     Options
	title string
	size  func() (width, height int)

	mu      sync.Mutex
	health  tracker.Health         // the watch's; the zero value is live
	sources map[string]fanin.State // by context and namespace, with Options.Contexts
	rows    map[string]*liveRow
	sorted  []*liveRow // by context, namespace, then name
	counts  map[deployment.Status]int
	// gapRows counts the rows with an open serving gap; serviceGaps are
	// the gaps of Services no row shows; unknown says why serving cannot
	// be read, from the latest row that said so.
	gapRows     int
	serviceGaps []deployment.ServiceGap
	unknown     string
	synced      bool
	dirty       bool
	closed      bool
	shown       int      // how many rows the last redraw showed
	screen      []string // the lines the last redraw left on the screen
	width       int      // the terminal's size at the last redraw
	height      int
	stop        chan struct{}
	stopped     chan struct{}
	// writeErr is the first failed redraw's error, for Close; only the
	// redraw loop writes it, and Close reads it after the loop has stopped.
	writeErr error
	// warnRows counts the rows with rollout-safety warnings.
	warnRows int
	// kinds counts the rows of each kind: with more than one, names carry
	// their kind and the title counts workloads.
	kinds kindSet
	// rollouts are the lines of the latest rollouts that ended (rollout.go).
	rollouts []liveRollout
}

type liveRow struct {
	summary deployment.Summary
	changed time.Time
	cells   []string // the row's cells but LAST CHANGE, which moves with the clock
}

// NewLive starts a live table on out. title names what is watched; size
// reports the terminal's size (columns, rows).
func NewLive(out io.Writer, o Options, title string, size func() (int, int)) *Live {
	p := &Live{
		out: out, o: o, title: title, size: size,
		rows: map[string]*liveRow{}, counts: map[deployment.Status]int{}, sources: map[string]fanin.State{}, dirty: true, kinds: kindSet{},
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	p.write(altScreenOn + cursorHide)
	go p.loop()
	return p
}

func compareRows(a, b *liveRow) int { return deployment.Compare(&a.summary, &b.summary) }

// OnEvent records the change; the next redraw shows it if it is on screen
// or changes the title's count.
func (p *Live) OnEvent(e deployment.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Type == deployment.Rollout {
		p.onRolloutLocked(&e) // the row showed its summary already
		return
	}
	key := e.Key()
	old, known := p.rows[key]
	defer p.kindsChangedLocked()
	if known {
		p.kinds.add(&old.summary, -1)
		p.counts[old.summary.Status]--
		if len(old.summary.Gaps) > 0 {
			p.gapRows--
			p.dirty = true // the title counts them
		}
		if len(old.summary.Warnings) > 0 {
			p.warnRows--
			p.dirty = true
		}
	}
	if e.Type == deployment.Deleted {
		if known {
			i, _ := slices.BinarySearchFunc(p.sorted, old, compareRows)
			p.sorted = slices.Delete(p.sorted, i, i+1)
			delete(p.rows, key)
			p.dirty = true
		}
		return
	}
	r := &liveRow{summary: e.Summary, changed: ChangedAt(&e), cells: row(p.o, &e.Summary, string(e.Status), "")}
	i, _ := slices.BinarySearchFunc(p.sorted, r, compareRows)
	if known {
		p.sorted[i] = r
		p.dirty = p.dirty || i < p.shown || old.summary.Status != r.summary.Status
	} else {
		p.sorted = slices.Insert(p.sorted, i, r)
		p.dirty = true
	}
	p.rows[key] = r
	p.kinds.add(&r.summary, 1)
	p.counts[r.summary.Status]++
	if len(r.summary.Gaps) > 0 {
		p.gapRows++
		p.dirty = true
	}
	if len(r.summary.Warnings) > 0 {
		p.warnRows++
		p.dirty = true
	}
	if r.summary.ServingUnknown != "" && r.summary.ServingUnknown != p.unknown {
		p.unknown, p.dirty = r.summary.ServingUnknown, true
	}
}

// kindsChangedLocked lays every row out again when the rows come to be
// of several kinds, or of one again: names carry their kind only then.
func (p *Live) kindsChangedLocked() {
	several := len(p.kinds) > 1
	if several == p.o.kinds {
		return
	}
	p.o.kinds, p.dirty = several, true
	for _, r := range p.sorted {
		r.cells = row(p.o, &r.summary, string(r.summary.Status), "")
	}
}

// OnServiceGaps shows, under the title, the gaps of Services that select
// no pod and no Deployment shown (tracker.Options.OnServiceGaps).
func (p *Live) OnServiceGaps(gaps []deployment.ServiceGap) {
	p.mu.Lock()
	p.serviceGaps, p.dirty = slices.Clone(gaps), true
	p.mu.Unlock()
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
	ages := time.NewTicker(time.Second) // the clock and LAST CHANGE move on
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
	lines, shown := p.linesLocked(width, height)
	p.shown = shown
	out := p.updateLocked(lines, width, height)
	p.mu.Unlock()
	if out != "" {
		p.write(out)
	}
}

// updateLocked returns what turns the screen of the last redraw into
// lines: all of it after a resize, else only the lines that differ.
func (p *Live) updateLocked(lines []string, width, height int) string {
	var b strings.Builder
	if p.screen == nil || width != p.width || height != p.height {
		b.WriteString(home + clearBelow + strings.Join(lines, clearLine+"\n") + clearLine)
	} else {
		for i, l := range lines {
			if i < len(p.screen) && p.screen[i] == l {
				continue
			}
			fmt.Fprintf(&b, "\x1b[%d;1H%s%s", i+1, clearLine, l)
		}
		if len(lines) < len(p.screen) {
			fmt.Fprintf(&b, "\x1b[%d;1H%s", len(lines)+1, clearBelow)
		}
	}
	p.screen, p.width, p.height = lines, width, height
	return b.String()
}

// Frame returns the lines of one redraw for a terminal of the given size
// (height 0: no limit), as the screen would show them.
func (p *Live) Frame(width, height int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines, _ := p.linesLocked(width, height)
	return lines
}

// linesLocked lays out the title and the rows that fit; it also returns
// how many rows that is.
func (p *Live) linesLocked(width, height int) ([]string, int) {
	now := p.o.now()
	lines := []string{p.titleLocked(now, width)}
	if p.o.Contexts {
		lines = append(lines, p.contextLinesLocked(width)...)
	}
	for i := range p.serviceGaps {
		l := "  " + describeServiceGap(&p.serviceGaps[i])
		if i == maxServiceGapLines-1 && len(p.serviceGaps) > maxServiceGapLines {
			l = fmt.Sprintf("  … and %d more Services that select no pod", len(p.serviceGaps)-i)
		}
		l = cut(l, width)
		if p.o.Color {
			l = "\x1b[" + gapColor + "m" + l + "\x1b[0m"
		}
		lines = append(lines, l)
		if i == maxServiceGapLines-1 {
			break
		}
	}
	lines = append(lines, p.rolloutLinesLocked(width)...)
	if p.synced && len(p.sorted) == 0 {
		return append(lines, "", cmp.Or(p.o.Empty, "No deployments found.")), 0
	}
	room := len(p.sorted)
	if top := len(lines) + 1; height > 0 && room+top > height {
		room = max(height-top-1, 0) // the title, context lines, the header and the "more" line
	}
	head := header(p.o)
	changeCol := slices.Index(head, "LAST CHANGE")
	servingCol := slices.Index(head, "SERVING")
	msgCol := len(head) - 1
	rows := make([][]string, room)
	for i, r := range p.sorted[:room] {
		rows[i] = slices.Clone(r.cells)
		rows[i][changeCol] = age(now.Sub(r.changed))
		if servingCol >= 0 && p.servingLostLocked(&r.summary) {
			rows[i][servingCol] = unknownServing // what it showed may be stale
		}
	}
	cols := layout(head, rows, width)
	lines = append(lines, cols.line(head, width))
	statusAt := cols.offset(slices.Index(head, "STATUS"))
	servingAt := -1
	if servingCol >= 0 && slices.Contains(cols.show, servingCol) {
		servingAt = cols.offset(servingCol)
	}
	for i, cells := range rows {
		l := cols.line(cells, width)
		if p.o.Color {
			// SERVING first: it is right of STATUS, whose colour would
			// move it.
			if servingAt >= 0 && len(p.sorted[i].summary.Gaps) > 0 {
				l = paintText(l, servingAt, cut(cells[servingCol], cols.width[servingCol]), gapColor)
			}
			l = paint(l, statusAt, p.sorted[i].summary.Status)
			if m := warningMark(&p.sorted[i].summary); m != "" && slices.Contains(cols.show, msgCol) {
				l = paintText(l, cols.offset(msgCol), m, warningColor)
			}
		}
		lines = append(lines, l)
	}
	if room < len(p.sorted) {
		lines = append(lines, cut(fmt.Sprintf("… %d more (enlarge the terminal, or filter with -l)", len(p.sorted)-room), width))
	}
	return lines, room
}

// minTitlePrefix is the fewest runes the title keeps for what is watched
// when the terminal is too narrow for all of it and the counts.
const minTitlePrefix = 24

func (p *Live) titleLocked(now time.Time, width int) string {
	// While the watch is lost the clock stops: the title says since when
	// the rows may be stale, and why.
	clock := now.Format(time.TimeOnly)
	lost := p.health.State != "" && p.health.State != tracker.Live
	if lost {
		clock = fmt.Sprintf("%s since %s", p.health.State, p.health.Since.Local().Format(time.TimeOnly))
		if p.health.Err != nil {
			clock += ": " + oneLine(p.health.Err.Error())
		}
	}
	tail := " · " + clock
	if !p.synced {
		tail += " · loading…"
	} else {
		tail += " · " + tallyOf(len(p.sorted), p.counts, p.kinds.list())
	}
	if n := p.gapRows + len(p.serviceGaps); n > 0 {
		tail += " · " + plural(n, "serving gap", "serving gaps")
	}
	if p.warnRows > 0 {
		tail += fmt.Sprintf(" · !%d with warnings", p.warnRows) // the rows' mark, counted
	}
	if p.unknown != "" {
		tail += " · serving unknown: " + p.unknown
	}
	// What is watched gives way before the clock and the counts, which are
	// what changes: first to its short form, then cut, down to
	// minTitlePrefix runes.
	room := 0
	if width > 0 {
		room = max(width-utf8.RuneCountInString(tail), minTitlePrefix)
	}
	prefix := p.title
	if p.o.Title != nil {
		prefix = p.o.Title(p.kinds.list(), room)
	}
	if room > 0 {
		prefix = cut(prefix, room)
	}
	title := cut(prefix+tail, width)
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
	return title
}

// columns is a table's layout for one frame: which columns show, in their
// order, and how wide each is.
type columns struct {
	show  []int
	width []int // by the header's index
	// images is IMAGES' index (-1: none), cut from the left: an image's
	// tag, at its end, is what tells one rollout from the next.
	images int
}

// Column titles the layout gives up, in this order, when the terminal is
// too narrow for MESSAGE to get its room: a Failed row's reason matters
// more than its images or its replica counts. SERVING goes before IMAGES:
// MESSAGE names an open serving gap itself, and SERVING is `<none>` on
// every row of a namespace without Services. IMAGES goes last: MESSAGE
// leaves the image out (and counts the new pods, UP-TO-DATE's number).
// NAME, STATUS, READY and LAST CHANGE always stay.
var (
	droppable = []string{"GENERATION", "CONTAINERS", "POD", "UP-TO-DATE", "AVAILABLE", "SERVING", "IMAGES"}
	// imagesMin is how narrow IMAGES is cut (with …) before it goes.
	imagesMin = 16
)

// layout fits head and rows (the frame's visible rows only) to width
// columns (0: no limit), kubectl-like: left aligned, three blanks apart.
// MESSAGE, the last column, is wanted at its full width or half the
// terminal, whichever is less; the droppable columns give way until it
// has that.
func layout(head []string, rows [][]string, width int) columns {
	c := columns{width: make([]int, len(head)), images: slices.Index(head, "IMAGES")}
	for i, h := range head {
		c.width[i] = utf8.RuneCountInString(h)
		c.show = append(c.show, i)
	}
	for _, r := range rows {
		for i, cell := range r {
			c.width[i] = max(c.width[i], utf8.RuneCountInString(cell))
		}
	}
	if width <= 0 {
		return c
	}
	msg := len(head) - 1
	want := min(c.width[msg], max(width/2, utf8.RuneCountInString(head[msg])))
	fits := func() bool { return width-c.used() >= want }
	for _, name := range droppable {
		if fits() {
			break
		}
		i := slices.Index(head, name)
		if i < 0 {
			continue
		}
		if name == "IMAGES" && c.width[i] > imagesMin {
			full := c.width[i]
			c.width[i] = imagesMin
			if fits() {
				// What MESSAGE does not need at its full width goes back.
				c.width[i] = min(full, imagesMin+max(0, width-c.used()-c.width[msg]))
				break
			}
		}
		c.show = slices.DeleteFunc(c.show, func(j int) bool { return j == i })
	}
	return c
}

// used is the width of every shown column before the last, with the gaps.
func (c *columns) used() int {
	n := 0
	for _, i := range c.show[:len(c.show)-1] {
		n += c.width[i] + 3
	}
	return n
}

// offset is where column i starts on a line (ASCII before it: names).
func (c *columns) offset(i int) int {
	n := 0
	for _, j := range c.show {
		if j == i {
			return n
		}
		n += c.width[j] + 3
	}
	return n
}

// line lays out cells, the last as long as it is, then cuts to width.
func (c *columns) line(cells []string, width int) string {
	var b strings.Builder
	last := c.show[len(c.show)-1]
	for _, i := range c.show {
		cell := cells[i]
		if i == last {
			b.WriteString(cell)
			break
		}
		if i == c.images {
			cell = cutLeft(cell, c.width[i])
		} else {
			cell = cut(cell, c.width[i])
		}
		b.WriteString(cell)
		b.WriteString(strings.Repeat(" ", c.width[i]-utf8.RuneCountInString(cell)+3))
	}
	return cut(strings.TrimRight(b.String(), " "), width)
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

// tally reads "4 deployments: 1 Progressing, 3 Running", the worst first
// (in the page's order too).
func tally(total int, counts map[deployment.Status]int) string {
	return tallyOf(total, counts, nil)
}

// tallyOf is tally of rows of these kinds: "deployments" for Deployments
// alone (or none), "statefulsets" for StatefulSets alone, "workloads"
// for several kinds.
func tallyOf(total int, counts map[deployment.Status]int, kinds []string) string {
	parts := []string{}
	for _, s := range deployment.Statuses() {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	noun := "deployment"
	switch {
	case len(kinds) > 1:
		noun = "workload"
	case len(kinds) == 1:
		noun = strings.ToLower(kinds[0])
	}
	if total != 1 {
		noun += "s"
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
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	if width == 1 {
		return "…"
	}
	return string(r[:width-1]) + "…"
}

// cutLeft shortens s to width runes from the left, keeping its end.
func cutLeft(s string, width int) string {
	r := []rune(s)
	if width <= 0 || len(r) <= width {
		return s
	}
	return "…" + string(r[len(r)-width+1:])
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
	if _, err := io.WriteString(p.out, altScreenOff+cursorShow+strings.Join(final, "\n")+"\n"); err != nil {
		return err
	}
	return p.writeErr
}

// write sends a redraw to the terminal and keeps the first error for Close.
func (p *Live) write(s string) {
	if _, err := io.WriteString(p.out, s); err != nil && p.writeErr == nil {
		p.writeErr = err
	}
}

// servingLostLocked reports whether what r shows of serving may be stale:
// the watch of Services, EndpointSlices or Pods of its tracker is lost.
func (p *Live) servingLostLocked(s *deployment.Summary) bool {
	if !p.o.Contexts {
		return p.health.ServingLost()
	}
	for _, key := range []string{s.Context + "/" + s.Namespace, s.Context + "/"} {
		if st, ok := p.sources[key]; ok {
			return st.Health.ServingLost()
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
