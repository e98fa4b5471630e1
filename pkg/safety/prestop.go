package safety

import (
	"math"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// preStopSleep is how long a container's preStop hook sleeps, in seconds:
// a sleep action, or an exec of `sleep N` (["sleep","5"],
// ["/bin/sh","-c","sleep 5 && nginx -s quit"]; the sleeps of a script add
// up). ok is false when the container has no preStop hook that sleeps a
// length known before it runs ("sleep $DELAY", an httpGet).
// math.Inf(1) is `sleep infinity`.
func preStopSleep(c *corev1.Container) (seconds float64, ok bool) {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return 0, false
	}
	h := c.Lifecycle.PreStop
	switch {
	case h.Sleep != nil:
		return float64(h.Sleep.Seconds), true
	case h.Exec != nil:
		return execSleep(h.Exec.Command)
	}
	return 0, false
}

// hasPreStop says whether the container has a preStop hook of any kind.
func hasPreStop(c *corev1.Container) bool {
	return c.Lifecycle != nil && c.Lifecycle.PreStop != nil
}

// shells run their -c argument as a script.
var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true, "busybox": true}

// execSleep reads the sleeps of an exec hook's command: sleep run directly,
// or the `sleep N` commands of a shell's -c script.
func execSleep(cmd []string) (float64, bool) {
	if len(cmd) == 0 {
		return 0, false
	}
	prog := path.Base(cmd[0])
	if prog == "busybox" && len(cmd) > 1 && cmd[1] != "sh" {
		cmd, prog = cmd[1:], path.Base(cmd[1]) // busybox sleep 5
	}
	if prog == "sleep" {
		return sleepArgs(cmd[1:])
	}
	if !shells[prog] {
		return 0, false
	}
	args := cmd[1:]
	if prog == "busybox" {
		args = args[1:] // busybox sh -c ...
	}
	for i, a := range args {
		// -c, or flags that end in c (-ec, -xc): the script is next.
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.HasSuffix(a, "c") && i+1 < len(args) {
			return scriptSleep(args[i+1])
		}
	}
	return 0, false
}

// scriptSleep adds up the `sleep N` commands of a shell script. A sleep
// whose length it cannot read (a variable, a command substitution) makes
// the whole unknown.
func scriptSleep(script string) (float64, bool) {
	words := strings.FieldsFunc(script, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == ';' || r == '&' || r == '|' || r == '(' || r == ')'
	})
	total, found := 0.0, false
	for i := 0; i < len(words); i++ {
		if path.Base(words[i]) != "sleep" || (i > 0 && isArgOfPrevious(words[i-1])) {
			continue
		}
		j := i + 1
		for j < len(words) && isDuration(words[j]) {
			j++
		}
		s, ok := sleepArgs(words[i+1 : j])
		if !ok {
			return 0, false
		}
		total, found = total+s, true
		i = j - 1
	}
	return total, found
}

// isArgOfPrevious keeps `echo sleep` from counting as a sleep.
func isArgOfPrevious(w string) bool {
	return w == "echo" || w == "printf"
}

// sleepArgs is the length coreutils and busybox sleep take from their
// arguments: their sum, each a number with an optional s, m, h or d suffix,
// or "infinity".
func sleepArgs(args []string) (float64, bool) {
	if len(args) == 0 {
		return 0, false
	}
	total := 0.0
	for _, a := range args {
		d, ok := duration(a)
		if !ok {
			return 0, false
		}
		total += d
	}
	return total, true
}

func isDuration(w string) bool {
	_, ok := duration(w)
	return ok
}

func duration(w string) (float64, bool) {
	if w == "infinity" || w == "inf" {
		return math.Inf(1), true
	}
	unit := 1.0
	switch {
	case strings.HasSuffix(w, "s"):
		w = strings.TrimSuffix(w, "s")
	case strings.HasSuffix(w, "m"):
		w, unit = strings.TrimSuffix(w, "m"), 60
	case strings.HasSuffix(w, "h"):
		w, unit = strings.TrimSuffix(w, "h"), 3600
	case strings.HasSuffix(w, "d"):
		w, unit = strings.TrimSuffix(w, "d"), 86400
	}
	n, err := strconv.ParseFloat(w, 64)
	if err != nil || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n * unit, true
}
