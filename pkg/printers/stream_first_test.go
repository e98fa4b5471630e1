package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestStreamFirstTableLaidOutAsRender: the piped table's first table, laid
// out row by row to spare memory, is exactly what render (tablewriter)
// makes of the same rows, with and without the namespace and wide columns.
func TestStreamFirstTableLaidOutAsRender(t *testing.T) {
	events := []deployment.Event{
		event(deployment.Added, "shop", "web", deployment.Running, 3, 3, "nginx:1.25"),
		event(deployment.Added, "shop-long-namespace", "a-much-longer-name", deployment.Progressing, 1, 10, "registry.example.com/team/app:v1.2.3"),
		event(deployment.Added, "x", "y", deployment.ScaledToZero, 0, 0, "i"),
	}
	for _, o := range []Options{{}, {AllNamespaces: true}, {Wide: true, AllNamespaces: true}} {
		o.Now = func() time.Time { return t0 }
		var out bytes.Buffer
		p := NewStream(&out, o)
		var rows [][]string
		for _, e := range events {
			p.OnEvent(e)
			rows = append(rows, p.cells(&e))
		}
		p.OnSynced(nil)
		want := strings.Join(render(header(o), rows), "\n") + "\n"
		if out.String() != want {
			t.Errorf("options %+v: first table\n%s\nwant (render's)\n%s", o, out.String(), want)
		}
	}
}
