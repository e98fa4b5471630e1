package printers

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes head and rows as kubectl lays out its tables (see
// render): for one-shot listings such as a Deployment's history.
func WriteTable(w io.Writer, head []string, rows [][]string) error {
	_, err := fmt.Fprintln(w, strings.Join(render(head, rows), "\n"))
	return err
}
