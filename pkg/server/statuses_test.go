package server

import (
	"slices"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestInfoServesTheStatusOrder: the page sorts by the order GET /api/info
// gives, the live table's own (deployment.Statuses), not a list of its own.
func TestInfoServesTheStatusOrder(t *testing.T) {
	f := newFixture(t, nil)
	var info struct{ Statuses []deployment.Status }
	getJSON(t, f, "/api/info", &info)
	if want := deployment.Statuses(); !slices.Equal(info.Statuses, want) {
		t.Errorf("GET /api/info: statuses %v, want %v", info.Statuses, want)
	}
}
