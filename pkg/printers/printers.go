// Package printers renders deployment events for people and scripts: NDJSON
// lines, a table that grows one row per change when piped, and a live table
// redrawn in place on a terminal. Each printer is a tracker.Sink.
package printers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// Options shape the table printers.
type Options struct {
	// Wide adds the containers' names and the generations.
	Wide bool
	// AllNamespaces adds the NAMESPACE column.
	AllNamespaces bool
	// Contexts adds the CONTEXT column (a view over several contexts).
	Contexts bool
	// Color paints the status column (never when NO_COLOR is set).
	Color bool
	// Serving adds the SERVING column: what the Services that select each
	// Deployment's pods serve (with Wide, each Service by name).
	Serving bool
	// Now is the clock for the LAST CHANGE column; nil means time.Now.
	Now func() time.Time
	// Title, when set, gives the live table's title from the kinds its
	// rows are of (see Kinds), in place of NewLive's title. room is how
	// many runes it may take before it pushes the clock and the counts
	// off the line (0: no limit); a Title that does not fit may answer
	// a shorter form, and what is still too long is cut.
	Title func(kinds []string, room int) string
	// Empty is the live table's line when it has no row; empty means
	// "No deployments found.".
	Empty string

	// kinds: rows of more than one kind were shown, so every NAME carries
	// its kind's short name ("sts/db"); set by the printers themselves.
	kinds bool
}

// kindSet counts the rows of each kind a printer shows.
type kindSet map[string]int

// add counts one row of s's kind in (or out, with n -1), and reports
// whether more than one kind is present now.
func (k kindSet) add(s *deployment.Summary, n int) bool {
	kind := cmp.Or(s.Kind, deployment.KindDeployment)
	k[kind] += n
	if k[kind] <= 0 {
		delete(k, kind)
	}
	return len(k) > 1
}

// list is the kinds present, in deployment.Kinds' order.
func (k kindSet) list() []string {
	var out []string
	for _, kind := range deployment.Kinds {
		if k[kind] > 0 {
			out = append(out, kind)
		}
	}
	return out
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Formats are the values -o accepts.
var Formats = []string{"table", "wide", "ndjson"}

// NDJSON writes one JSON object per event and line, each with a single Write
// so that a reader sees it at once and whole.
type NDJSON struct {
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

// NewNDJSON returns an NDJSON printer writing to w.
func NewNDJSON(w io.Writer) *NDJSON {
	p := &NDJSON{w: w}
	p.enc = json.NewEncoder(&p.buf)
	return p
}

// OnEvent writes e as one line.
func (p *NDJSON) OnEvent(e deployment.Event) {
	if p.err != nil {
		return
	}
	p.buf.Reset()
	if err := p.enc.Encode(&e); err != nil {
		p.err = err
		return
	}
	_, p.err = p.w.Write(p.buf.Bytes())
}

// OnSynced prints nothing: the ADDED events already said it all.
func (p *NDJSON) OnSynced([]deployment.Summary) {}

// Err is the first write error, if any (a closed pipe, say).
func (p *NDJSON) Err() error { return p.err }

// Close has nothing to restore.
func (p *NDJSON) Close() error { return p.err }

// header returns the table's column titles.
func header(o Options) []string {
	h := []string{"NAME", "STATUS", "READY", "UP-TO-DATE", "AVAILABLE", "IMAGES", "LAST CHANGE", "MESSAGE"}
	if o.Wide {
		h = []string{"NAME", "STATUS", "READY", "UP-TO-DATE", "AVAILABLE", "CONTAINERS", "IMAGES", "GENERATION", "POD", "LAST CHANGE", "MESSAGE"}
	}
	if o.Serving {
		h = slices.Insert(h, slices.Index(h, "AVAILABLE")+1, "SERVING")
	}
	if o.AllNamespaces {
		h = append([]string{"NAMESPACE"}, h...)
	}
	if o.Contexts {
		h = append([]string{"CONTEXT"}, h...)
	}
	return h
}

// row returns a summary's cells; lastChange is already formatted.
func row(o Options, s *deployment.Summary, status, lastChange string) []string {
	r := &s.Replicas
	names := make([]string, len(s.Containers))
	images := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		names[i], images[i] = c.Name, c.Image
	}
	msg := message(s)
	name := s.Name
	if o.kinds {
		name = s.ShortName()
	}
	cells := []string{
		name,
		status,
		strconv.Itoa(int(r.Ready)) + "/" + strconv.Itoa(int(r.Desired)),
		strconv.Itoa(int(r.Updated)),
		strconv.Itoa(int(r.Available)),
	}
	if o.Serving {
		cells = append(cells, servingCell(s, o.Wide))
	}
	if o.Wide {
		cells = append(cells, strings.Join(names, ","), imagesCell(s, images),
			fmt.Sprintf("%d/%d", s.ObservedGeneration, s.Generation), problemPod(s))
		if len(s.Problems) > 0 && s.Problems[0].Pod != "" { // POD shows it
			msg = strings.Replace(msg, diagnosis.PodNote(s.Problems[0]), "", 1)
		}
	} else {
		cells = append(cells, imagesCell(s, images))
	}
	cells = append(cells, lastChange, msg)
	if o.AllNamespaces {
		cells = append([]string{s.Namespace}, cells...)
	}
	if o.Contexts {
		cells = append([]string{s.Context}, cells...)
	}
	return cells
}

// imagesCell is the spec's images. A paused rollout with pods of the old
// template left says so: those pods do not run the spec's template, and
// it will not go on by itself.
func imagesCell(s *deployment.Summary, images []string) string {
	cell := strings.Join(images, ",")
	r := &s.Replicas
	if s.Status != deployment.Paused || r.Current <= r.Updated {
		return cell
	}
	if r.Updated == 0 {
		return cell + " (not rolled out)"
	}
	return fmt.Sprintf("%s (on %d of %d pods)", cell, r.Updated, r.Current)
}

// problemPod names the example pod of the first problem and its node, for
// -o wide: "web-7d9f-x2k4 on node-1", or "<none>".
func problemPod(s *deployment.Summary) string {
	if len(s.Problems) == 0 || s.Problems[0].Pod == "" {
		return "<none>"
	}
	p := s.Problems[0]
	if p.Node != "" {
		return p.Pod + " on " + p.Node
	}
	return p.Pod
}

// age formats a duration the way kubectl's AGE column does, coarsely.
func age(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m" + strconv.Itoa(int(d%time.Minute/time.Second)) + "s"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h" + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
}

// ChangedAt is when e's Deployment last changed in something shown: for a
// Deployment seen first (ADDED), since when it is in its state as the
// cluster recorded it (Summary.Since), not when deploywatch started; for a
// change deploywatch saw, when it saw it.
func ChangedAt(e *deployment.Event) time.Time {
	if e.Type == deployment.Added && !e.Since.IsZero() && e.Since.Before(e.Time) {
		return e.Since
	}
	return e.Time
}
