package hub

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func serviceGap(ns, svc string) deployment.ServiceGap {
	return deployment.ServiceGap{Namespace: ns, Gap: deployment.Gap{Service: svc, Kind: deployment.GapSelectsNoPod, Start: time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)}}
}

// gapsOf is the Services of the serviceGaps messages in msgs, in order
// (one list per message).
func gapsOf(t *testing.T, msgs []Message) [][]string {
	t.Helper()
	var out [][]string
	for _, m := range msgs {
		if m.Kind != ServiceGapsKind {
			continue
		}
		var gaps []deployment.ServiceGap
		if err := json.Unmarshal(m.Data, &gaps); err != nil || gaps == nil {
			t.Fatalf("serviceGaps data %s: %v", m.Data, err)
		}
		svcs := []string{}
		for _, g := range gaps {
			svcs = append(svcs, g.Namespace+"/"+g.Service)
		}
		out = append(out, svcs)
	}
	return out
}

func equalLists(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// TestServiceGapsReachSubscribers: the gaps of Services that select no
// pod go to the namespace's subscribers as they change, with an ID; a new
// subscriber gets them after its snapshot while there are some; "[]" says
// none is left.
func TestServiceGapsReachSubscribers(t *testing.T) {
	ss := &scripts{make: func() *script { return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	first := subscribe(t, h, "shop", "")
	defer first.Close()
	next(t, first) // the snapshot
	sink := ss.last().sink.(serviceGapsSink)
	sink.OnServiceGaps([]deployment.ServiceGap{serviceGap("shop", "green")})
	msgs := next(t, first)
	if got := gapsOf(t, msgs); !equalLists(got, [][]string{{"shop/green"}}) || msgs[0].ID == "" {
		t.Fatalf("the first subscriber got %v (%+v), want shop/green with an ID", got, msgs)
	}
	late := subscribe(t, h, "shop", "")
	if msgs := next(t, late); len(names(t, msgs)) != 1 || !equalLists(gapsOf(t, msgs), [][]string{{"shop/green"}}) {
		t.Fatalf("a new subscriber got %+v, want the snapshot and then shop/green", msgs)
	}
	late.Close()
	sink.OnServiceGaps(nil)
	if got := gapsOf(t, next(t, first)); !equalLists(got, [][]string{{}}) {
		t.Fatalf("after the gap ended: %v, want an empty list", got)
	}
	later := subscribe(t, h, "shop", "")
	defer later.Close()
	if msgs := next(t, later); len(msgs) != 1 || msgs[0].Kind != Snapshot {
		t.Fatalf("with no gap a new subscriber got %+v, want the snapshot alone", msgs)
	}
}

// TestClusterWideServiceGapsByNamespace: the cluster-wide tracker's
// Service gaps go each to its namespace, an ended one as an empty list,
// and a namespace first viewed later gets its own after its snapshot.
func TestClusterWideServiceGapsByNamespace(t *testing.T) {
	h, ss := clusterHub(t, time.Hour, evIn("shop", deployment.Added, "web", 1), evIn("bank", deployment.Added, "ledger", 1))
	shop := subscribe(t, h, "shop", "")
	defer shop.Close()
	next(t, shop)
	run := ss.last().sink.(serviceGapsSink)
	run.OnServiceGaps([]deployment.ServiceGap{serviceGap("bank", "vault"), serviceGap("shop", "green")})
	if got := gapsOf(t, next(t, shop)); !equalLists(got, [][]string{{"shop/green"}}) {
		t.Fatalf("shop got %v, want its own gap only", got)
	}
	bank := subscribe(t, h, "bank", "")
	defer bank.Close()
	if got := gapsOf(t, next(t, bank)); !equalLists(got, [][]string{{"bank/vault"}}) {
		t.Fatalf("bank, viewed later, got %v", got)
	}
	run.OnServiceGaps([]deployment.ServiceGap{serviceGap("bank", "vault")})
	if got := gapsOf(t, next(t, shop)); !equalLists(got, [][]string{{}}) {
		t.Fatalf("shop after its gap ended: %v, want an empty list", got)
	}
	if n := bank.pending(); n != 0 {
		t.Errorf("bank, whose gaps did not change, has %d messages pending", n)
	}
}
