package bench

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// microPackages hold the Go benchmarks of the summary, the dedup and the
// encoders.
var microPackages = []string{"./pkg/deployment/", "./pkg/printers/", "./pkg/hub/"}

// benchMicro runs the packages' Go benchmarks and reports them.
func benchMicro(t *testing.T, r *report) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", pick("1s", "200ms")}, microPackages...)
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	sec := section{
		title: "7. Go micro-benchmarks (go " + strings.Join(args, " ") + ")",
		head:  []string{"package", "benchmark", "ns/op", "B/op", "allocs/op"},
	}
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "pkg:":
			pkg = strings.TrimPrefix(f[1], "github.com/deploywatch/kubectl-deploywatch/")
		case len(f) >= 8 && strings.HasPrefix(f[0], "Benchmark"):
			unit := map[string]string{}
			for i := 2; i+1 < len(f); i += 2 {
				unit[f[i+1]] = f[i]
			}
			sec.rows = append(sec.rows, []string{pkg, f[0], unit["ns/op"], unit["B/op"], unit["allocs/op"]})
		}
	}
	r.add(sec)
}
