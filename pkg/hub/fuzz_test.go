package hub

import (
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// FuzzSince feeds arbitrary Last-Event-IDs to a namespace's history: it
// never panics, and what it resumes is exactly the events after the ID, in
// order, up to the latest; an ID it cannot resume from asks for a snapshot.
func FuzzSince(f *testing.F) {
	for _, seed := range []struct {
		id     string
		events uint8
	}{
		{"", 3}, {"e-0", 0}, {"e-2", 3}, {"e-9", 9}, {"e-1", 9}, {"x-2", 3}, {"e-", 2}, {"-", 1},
		{"e-18446744073709551615", 4}, {"e-18446744073709551616", 4}, {"e--1", 2}, {"e-+1", 2}, {"e-1-2", 5},
	} {
		f.Add(seed.id, seed.events)
	}
	f.Fuzz(func(t *testing.T, id string, events uint8) {
		const size = 4
		n := &namespace{epoch: "e", opts: Options{HistorySize: size}, state: map[string]entry{}, subs: map[*Subscription]struct{}{}}
		count := uint64(events % 12)
		for i := uint64(0); i < count; i++ {
			n.OnEvent(deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web", Replicas: deployment.Replicas{Desired: int32(i)}}})
		}
		missed, ok := n.since(id)
		epoch, seq, parsed := parseID(id)
		resumable := parsed && epoch == "e" && seq <= count && seq+size >= count && formatID(epoch, seq) == id
		if resumable && !ok {
			t.Fatalf("since(%q) after %d events: no resume, want events %d..%d", id, count, seq+1, count)
		}
		if !ok {
			return
		}
		if !parsed || epoch != "e" {
			t.Fatalf("since(%q) resumed from an ID of another epoch or none", id)
		}
		if uint64(len(missed)) != count-seq {
			t.Fatalf("since(%q) after %d events gave %d, want %d", id, count, len(missed), count-seq)
		}
		for i, en := range missed {
			if en.seq != seq+1+uint64(i) {
				t.Fatalf("since(%q): entry %d has seq %d, want %d", id, i, en.seq, seq+1+uint64(i))
			}
		}
	})
}

// since is the history after the event with ID id, as a subscriber resuming
// from it reads it, and false when it would get a snapshot instead.
func (n *namespace) since(id string) ([]entry, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	seq, ok := n.resumeLocked(id)
	if !ok {
		return nil, false
	}
	var out []entry
	for q := seq + 1; q <= n.seq; q++ {
		out = append(out, *n.entryLocked(q))
	}
	return out, true
}
