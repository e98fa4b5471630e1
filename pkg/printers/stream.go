package printers

import (
	"cmp"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Stream prints the table for a pipe or a file: the Deployments that exist at
// start as one table, then one row per change, aligned with it, like
// `kubectl get -w` but without rows that repeat what was already shown.
type Stream struct {
	w       io.Writer
	o       Options
	pending [][]string
	// pendingEvents are the events of pending, to lay them out again when
	// the first table has rows of several kinds.
	pendingEvents []deployment.Event
	kinds         kindSet
	widths        []int
	headed        bool // the header is out
	synced        bool
	err           error
	// shown is each Deployment's last printed row, without its LAST CHANGE
	// cell: an event that changes only what the table does not show (the
	// current or unavailable count, say, which NDJSON carries) would
	// print the same row again.
	shown map[string]string
}

// NewStream returns a Stream printer writing to w.
func NewStream(w io.Writer, o Options) *Stream {
	return &Stream{w: w, o: o, shown: map[string]string{}, kinds: kindSet{}}
}

// repeats reports whether e's row shows nothing new for its Deployment, and
// remembers it otherwise.
func (p *Stream) repeats(e *deployment.Event, cells []string) bool {
	key := e.Key()
	if e.Type == deployment.Deleted {
		delete(p.shown, key) // a Deployment made again under the name is new
		return false
	}
	seen := strings.Join(cells[:len(cells)-2], "\x00") + "\x00" + cells[len(cells)-1] // all but LAST CHANGE
	if p.shown[key] == seen {
		return true
	}
	p.shown[key] = seen
	return false
}

func (p *Stream) cells(e *deployment.Event) []string {
	status := string(e.Status)
	if e.Type == deployment.Deleted {
		status = "Deleted"
	}
	return row(p.o, &e.Summary, status, ChangedAt(e).Local().Format(time.TimeOnly))
}

// OnEvent prints a row, or keeps it for the first table until synced.
// From the first row of a second kind on, names carry their kind.
func (p *Stream) OnEvent(e deployment.Event) {
	if e.Type == deployment.Rollout {
		return // its row is out already; the line of what it cost is RolloutNotice's
	}
	if e.Type != deployment.Deleted && !p.o.kinds && p.kinds.add(&e.Summary, 1) {
		p.o.kinds = true
	}
	cells := p.cells(&e)
	if p.repeats(&e, cells) {
		return
	}
	if !p.synced || !p.headed {
		p.pending = append(p.pending, cells)
		p.pendingEvents = append(p.pendingEvents, e)
		if p.synced {
			p.first()
		}
		return
	}
	p.write(p.align(cells))
}

// OnSynced prints the first table; with nothing to show yet, it waits for
// the first row, so an empty namespace prints no lone header (as kubectl).
//
// With --initial=false no row comes before the sync, but the Deployments that
// exist will: their rows (in the snapshot) set the columns' widths, so the
// rows that follow line up with each other.
func (p *Stream) OnSynced(snapshot []deployment.Summary) {
	p.synced = true
	for i := range snapshot { // with --initial=false, the kinds to come
		if p.kinds[cmp.Or(snapshot[i].Kind, deployment.KindDeployment)] == 0 && p.kinds.add(&snapshot[i], 1) {
			p.o.kinds = true
		}
	}
	if len(p.pending) == 0 && len(snapshot) > 0 {
		head := header(p.o)
		p.widths = make([]int, len(head))
		p.grow(head)
		status := slices.Index(head, "STATUS")
		for i := range snapshot {
			cells := row(p.o, &snapshot[i], string(snapshot[i].Status), time.TimeOnly)
			// Any status may come next: room for the longest.
			cells[status] = string(deployment.ScaledToZero)
			p.grow(cells)
		}
		return
	}
	if len(p.pending) > 0 {
		p.first()
	}
}

// first prints the header and the rows so far as one table and fixes the
// column widths.
func (p *Stream) first() {
	if p.o.kinds {
		for i := range p.pending { // made before a second kind was seen
			p.pending[i] = p.cells(&p.pendingEvents[i])
		}
	}
	head := header(p.o)
	if p.widths == nil {
		p.widths = make([]int, len(head))
	}
	for _, r := range append([][]string{head}, p.pending...) {
		p.grow(r)
	}
	p.headed = true
	// Laid out as render lays it out, row by row: with 10,000 Deployments
	// tablewriter's copy of the whole table cost tens of MB.
	var b strings.Builder
	b.WriteString(p.align(head))
	for _, r := range p.pending {
		b.WriteString(p.align(r))
	}
	p.write(b.String())
	p.pending, p.pendingEvents = nil, nil
}

func (p *Stream) grow(cells []string) {
	for i, c := range cells {
		if n := utf8.RuneCountInString(c); n > p.widths[i] {
			p.widths[i] = n
		}
	}
}

// align pads cells to the first table's columns; a longer cell widens its
// column from then on.
func (p *Stream) align(cells []string) string {
	p.grow(cells)
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", p.widths[i]-utf8.RuneCountInString(c)+3))
		}
	}
	return strings.TrimRight(b.String(), " ") + "\n"
}

func (p *Stream) write(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s)
	}
}

// Close reports the first write error.
func (p *Stream) Close() error { return p.err }
