package printers

import (
	"bytes"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// render lays rows out like kubectl's own tables: no borders, columns
// separated by three spaces, left aligned, no trailing blanks.
func render(head []string, rows [][]string) []string {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Right: "   ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	t.Header(head)
	_ = t.Bulk(rows)
	_ = t.Render()
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// statusColors are ANSI SGR codes per status.
var statusColors = map[deployment.Status]string{
	deployment.Running:      "32",   // green
	deployment.Progressing:  "36",   // cyan
	deployment.Scaling:      "36",   // cyan
	deployment.Degraded:     "33",   // yellow
	deployment.Failed:       "1;31", // bold red
	deployment.Failing:      "31",   // red
	deployment.Deleting:     "2",    // dim
	deployment.Paused:       "35",   // magenta
	deployment.ScaledToZero: "2",    // dim
}

// paintText colours the first occurrence of text at or after byte from in
// line with SGR code.
func paintText(line string, from int, text, code string) string {
	if text == "" || from > len(line) {
		return line
	}
	i := strings.Index(line[from:], text)
	if i < 0 {
		return line
	}
	i += from
	return line[:i] + "\x1b[" + code + "m" + text + "\x1b[0m" + line[i+len(text):]
}

// paint colours the first occurrence of status at or after column from in line.
func paint(line string, from int, status deployment.Status) string {
	code, ok := statusColors[status]
	if !ok || from > len(line) {
		return line
	}
	i := strings.Index(line[from:], string(status))
	if i < 0 {
		return line
	}
	i += from
	return line[:i] + "\x1b[" + code + "m" + string(status) + "\x1b[0m" + line[i+len(status):]
}
