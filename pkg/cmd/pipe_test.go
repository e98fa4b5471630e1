package cmd

import (
	"os"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
)

// TestPrintersIntoAClosedPipeAreABrokenPipe: each printer writing into a
// pipe whose reader has gone returns, from Close, an error isBrokenPipe
// knows, so watch and --wait end quietly rather than with "writing output".
// The pipe is not stdout: on fd 1 or 2 the Go runtime would end the process
// with SIGPIPE before the error came back (unless SIGPIPE is ignored).
func TestPrintersIntoAClosedPipeAreABrokenPipe(t *testing.T) {
	for name, newPrinter := range map[string]func(*os.File) printer{
		"ndjson": func(w *os.File) printer { return printers.NewNDJSON(w) },
		"table":  func(w *os.File) printer { return printers.NewStream(w, printers.Options{}) },
		"live": func(w *os.File) printer {
			return printers.NewLive(w, printers.Options{}, "title", func() (int, int) { return 80, 24 })
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			p := newPrinter(w)
			s := deployment.Summary{Namespace: "shop", Name: "web", Status: deployment.Running}
			p.OnEvent(deployment.Event{Type: deployment.Added, Summary: s})
			p.OnSynced([]deployment.Summary{s})
			err = p.Close()
			if err == nil || !isBrokenPipe(err) {
				t.Fatalf("Close() = %v, want a broken pipe", err)
			}
		})
	}
}

func TestOtherWriteErrorsAreNoBrokenPipe(t *testing.T) {
	f, err := os.Open(os.DevNull) // read-only: a write fails, with EBADF
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := printers.NewNDJSON(f)
	p.OnEvent(deployment.Event{Type: deployment.Added, Summary: deployment.Summary{Namespace: "shop", Name: "web"}})
	if err := p.Close(); err == nil || isBrokenPipe(err) {
		t.Fatalf("Close() = %v, want a write error that is no broken pipe", err)
	}
}
