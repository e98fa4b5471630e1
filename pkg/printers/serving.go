package printers

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// gapColor is the SGR code of a serving gap: not a status, so none of
// theirs.
const gapColor = "1;35" // bold magenta

// unknownServing is the SERVING cell while serving cannot be known.
const unknownServing = "?"

// servingCell is the SERVING cell: the worst Service's ready endpoints of
// all its endpoints ("0/1"); with wide, every Service by name
// ("api-svc=0/1,web=3/3"). "<none>" when no Service selects the pods, "?"
// when serving cannot be read.
func servingCell(s *deployment.Summary, wide bool) string {
	if s.ServingUnknown != "" {
		return unknownServing
	}
	if len(s.Serving) == 0 {
		if len(s.Gaps) > 0 {
			return fmt.Sprintf("%s=0/0", s.Gaps[0].Service) // a Service that selects no pod any more
		}
		return "<none>"
	}
	count := func(sv *deployment.Serving) string {
		return strconv.Itoa(int(sv.Ready)) + "/" + strconv.Itoa(int(sv.Endpoints))
	}
	if wide {
		parts := make([]string, len(s.Serving))
		for i := range s.Serving {
			parts[i] = s.Serving[i].Service + "=" + count(&s.Serving[i])
		}
		return strings.Join(parts, ",")
	}
	worst := slices.MinFunc(s.Serving, func(a, b deployment.Serving) int {
		return cmpServing(&a, &b)
	})
	return count(&worst)
}

// cmpServing orders Services worst first: no ready endpoint, then fewest
// of the Deployment's own below its floor, then fewest ready.
func cmpServing(a, b *deployment.Serving) int {
	rank := func(s *deployment.Serving) int {
		switch {
		case s.Ready == 0:
			return 0
		case s.Own < s.Floor:
			return 1
		}
		return 2
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	return int(a.Ready - b.Ready)
}

// warningMark marks a row whose Deployment has rollout-safety warnings:
// "!2" (the details are in NDJSON, the page, and `check`); "" when none.
func warningMark(s *deployment.Summary) string {
	if len(s.Warnings) == 0 {
		return ""
	}
	return "!" + strconv.Itoa(len(s.Warnings))
}

// warningColor is the SGR code of the warnings' mark.
const warningColor = "33" // yellow

// message is the MESSAGE cell: the warnings' mark, the open serving gaps,
// then the status's message, then the last gap when none is open.
func message(s *deployment.Summary) string {
	parts := make([]string, 0, len(s.Gaps)+2)
	rollingOut := s.Status == deployment.Progressing || s.Status == deployment.Failing || s.Status == deployment.Failed
	for i := range s.Gaps {
		parts = append(parts, s.Gaps[i].Describe(rollingOut, clock))
	}
	if s.Message != "" {
		parts = append(parts, s.Message)
	}
	if len(s.Gaps) == 0 && s.LastGap != nil {
		parts = append(parts, s.LastGap.DescribeEnded())
	}
	if m := warningMark(s); m != "" {
		return strings.TrimSpace(m + " " + strings.Join(parts, "; "))
	}
	return strings.Join(parts, "; ")
}

// clock formats a time of day as the tables do.
func clock(t time.Time) string { return t.Local().Format(time.TimeOnly) }

// describeServiceGap is the line of a Service that selects no pod and no
// Deployment shown: "shop/typo: selects no pod since 14:02:11".
func describeServiceGap(g *deployment.ServiceGap) string {
	gap := g.Gap
	gap.Service = g.Namespace + "/" + g.Service
	return gap.Describe(false, clock)
}

// ServiceGapNotice prints, on w, a line when a Service starts selecting
// no pod and no Deployment shown (tracker.Options.OnServiceGaps), and one
// when it stops: for a pipe, whose stdout holds Deployments only.
func ServiceGapNotice(w io.Writer) func([]deployment.ServiceGap) {
	var mu sync.Mutex
	told := map[string]deployment.ServiceGap{}
	return func(gaps []deployment.ServiceGap) {
		mu.Lock()
		defer mu.Unlock()
		now := map[string]deployment.ServiceGap{}
		for _, g := range gaps {
			key := g.Namespace + "/" + g.Service
			now[key] = g
			if _, ok := told[key]; !ok {
				fmt.Fprintf(w, "warning: serving gap: %s\n", describeServiceGap(&g))
			}
		}
		keys := make([]string, 0, len(told))
		for k := range told {
			if _, ok := now[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "warning: the serving gap of %s ended at %s\n", k, clock(time.Now()))
		}
		told = now
	}
}

// ServiceGapsTo is what tells a printer of the gaps of Services no
// Deployment shows: the live table's title, or else a notice on errOut.
func ServiceGapsTo(p any, errOut io.Writer) func([]deployment.ServiceGap) {
	if l, ok := p.(*Live); ok {
		return l.OnServiceGaps
	}
	return ServiceGapNotice(errOut)
}
