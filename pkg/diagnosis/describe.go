package diagnosis

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file words problems for people: the cause first, then what the
// row around it does not show (how many pods, an example pod, the
// container when it is not obvious). The kubelet's and the runtime's
// texts lead with context a row already shows (the image, the pod) and
// end with the cause ("...: not found"); Cause keeps the end.

// maxMessage bounds Problem.Message (and Cause), so one long kubelet
// error cannot take a whole terminal line or an NDJSON reader's screen.
const maxMessage = 200

// maxTail bounds how many characters of a runtime's chain of wrapped
// errors ("a: b: c: not found") Cause keeps, counted from the end: the
// registry's or the kernel's answer and a little of what led to it.
const maxTail = 50

// say records msg as p's message (shortened if it is long) and, unless p
// already has one, the cause it gives.
func (p *Problem) say(msg string) {
	p.Message, p.MessageFull = shorten(msg)
	if p.Cause == "" {
		p.Cause, _ = shorten(Cause(p.Reason, msg))
	}
}

// shorten puts s on one line. When that is longer than maxMessage
// characters, short keeps its first and its last words around " … " (a
// runtime puts the cause last) and full is the whole line; else full is "".
// It never cuts a word.
func shorten(s string) (short, full string) {
	words := strings.Fields(s)
	one := strings.Join(words, " ")
	if utf8.RuneCountInString(one) <= maxMessage {
		return one, ""
	}
	const gap = " … "
	headRoom := maxMessage * 3 / 5
	tailRoom := maxMessage - headRoom - utf8.RuneCountInString(gap)
	// Whole words from each end while they fit; together they fit in
	// maxMessage, so the two never overlap on a longer text.
	i, n := 0, 0
	for i < len(words) && n+utf8.RuneCountInString(words[i]) <= headRoom {
		n += utf8.RuneCountInString(words[i]) + 1
		i++
	}
	j, n := len(words), 0
	for j > i && n+utf8.RuneCountInString(words[j-1]) <= tailRoom {
		n += utf8.RuneCountInString(words[j-1]) + 1
		j--
	}
	short = strings.TrimSpace(strings.Join(words[:i], " ") + gap + strings.Join(words[j:], " "))
	return short, one
}

// Cause is the cause in a reporter's message, for a reason whose message
// says it (a crash loop's is its last exit, see exitCause): for an image
// pull, the registry's (or the runtime's) answer without the image; for
// the scheduler, its reasons without its count of nodes; for a pod the
// API server refused, why. Otherwise the message, on one line.
func Cause(reason, message string) string {
	msg := strings.Join(strings.Fields(message), " ")
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "SignatureValidationFailed", "ImageInspectError", "InvalidImageName":
		return tail(pullError(msg))
	case "ErrImageNeverPull":
		return quotedImage.ReplaceAllString(msg, "image ")
	case "RunContainerError", "CreateContainerError":
		return tail(msg)
	case "CrashLoopBackOff":
		return "" // "back-off 40s restarting failed container=...": no cause
	case "Unschedulable", "FailedScheduling":
		return schedulerCause(msg)
	case "FailedCreate":
		return forbidden.ReplaceAllString(msg, "")
	case "Unhealthy":
		return probeFailed.ReplaceAllStringFunc(msg, func(s string) string {
			return strings.ToLower(strings.TrimSuffix(s, " failed: ")) + ": "
		})
	}
	return msg
}

var (
	// The kubelet's words around a pull error: `Back-off pulling image
	// "X": ErrImagePull: <error>`, `Failed to pull image "X": <error>`.
	backOff    = regexp.MustCompile(`^Back-off pulling image "(?:[^"\\]|\\.)*"(?:: )?`)
	failedPull = regexp.MustCompile(`^Failed to pull image "(?:[^"\\]|\\.)*": `)
	errName    = regexp.MustCompile(`^(?:ErrImagePull|RegistryUnavailable|SignatureValidationFailed): `)
	// `Container image "X" is not present with pull policy of Never`.
	quotedImage = regexp.MustCompile(`image "(?:[^"\\]|\\.)*" `)
	// The scheduler's `0/3 nodes are available: <reasons>. preemption: ...`.
	nodesAvailable = regexp.MustCompile(`^0/\d+ nodes are available: `)
	preemption     = regexp.MustCompile(`\.? ?preemption: .*$`)
	// The API server's `pods "web-7d9f-x" is forbidden: `, after the
	// ReplicaSet controller's `Error creating: `.
	forbidden = regexp.MustCompile(`^(?:Error creating: )?pods(?: "[^"]*")? is forbidden: `)
	// The prober's `Readiness probe failed: `.
	probeFailed = regexp.MustCompile(`^(?:Readiness|Liveness|Startup) probe failed: `)
	// A gRPC status's `code = NotFound desc = `.
	grpcCode = regexp.MustCompile(`^(?:rpc error: )?code = \w+ desc = `)
)

// pullError is the error of a pull in a kubelet's message, without the
// kubelet's words around it; "" when the message only says it backs off.
func pullError(msg string) string {
	msg = backOff.ReplaceAllString(msg, "")
	msg = failedPull.ReplaceAllString(msg, "")
	return errName.ReplaceAllString(msg, "")
}

// tail is the end of a chain of wrapped errors ("a: b: c"), where the
// answer is: its last link, and the links before it while they fit in
// maxTail characters and are words, not a reference (an image, a quoted
// path, an address), which a row shows elsewhere or which says nothing.
//
//	failed to resolve reference "r/x:1": r/x:1: not found   -> not found
//	failed to fetch oauth token: 401 Unauthorized           -> failed to fetch oauth token: 401 Unauthorized
//	exec: "/app/server": stat /app/server: no such file or directory: unknown
//	                                                         -> stat /app/server: no such file or directory
func tail(msg string) string {
	links := strings.Split(msg, ": ")
	if n := len(links); n > 1 && links[n-1] == "unknown" {
		links = links[:n-1] // containerd's class of the error, not its cause
	}
	var kept []string
	size := 0
	for i := len(links) - 1; i >= 0; i-- {
		link := strings.TrimSpace(grpcCode.ReplaceAllString(links[i], ""))
		if link == "" {
			continue
		}
		if len(kept) > 0 {
			if link == kept[0] {
				continue // "manifest unknown: manifest unknown"
			}
			if reference(link) || link == "rpc error" || size+2+utf8.RuneCountInString(link) > maxTail {
				break
			}
		}
		kept = append([]string{link}, kept...)
		size += utf8.RuneCountInString(link) + 2
	}
	return strings.Join(kept, ": ")
}

// reference tells a link that names something (an image, a quoted path, a
// host and port) from one that says something: it is one word with a
// quote, a slash, a colon or a dot in it.
func reference(link string) bool {
	return !strings.Contains(link, " ") && strings.ContainsAny(link, `"/:.`)
}

// schedulerCause is the scheduler's reasons: "2 node(s) didn't match
// Pod's node affinity/selector", without "0/2 nodes are available" (the
// reason, Unschedulable, says it) and what preemption would not change.
func schedulerCause(msg string) string {
	if !nodesAvailable.MatchString(msg) {
		return msg
	}
	msg = nodesAvailable.ReplaceAllString(msg, "")
	msg = preemption.ReplaceAllString(msg, "")
	return strings.TrimSuffix(msg, ".")
}

// exitCause is a crash's last exit: "exit code 1", "OOMKilled, exit code
// 137". For a container the runtime could not start, the runtime's answer
// instead of its code ("StartError: stat /app/server: no such file or
// directory"). "Error", the reason of any non-zero exit, says nothing.
func exitCause(code int32, reason, message string) string {
	s := "exit code " + strconv.Itoa(int(code))
	if reason != "" && reason != "Error" {
		s = reason + ", " + s
	}
	if reason == "StartError" && message != "" {
		// 128 is the runtime's, not the program's: its answer says more.
		return reason + ": " + tail(strings.Join(strings.Fields(message), " "))
	}
	return s
}

// PodNote is the part of Describe's text that names p's example pod, for
// a view that shows the pod elsewhere (-o wide's POD column) to leave out.
func PodNote(p Problem) string {
	if p.Pod == "" {
		return ""
	}
	return "; pod " + p.Pod
}

// Describe is the one-line cause of a rollout's problems for a status
// message, cause first, then how many pods have it, of how many new pods
// (newPods, the ReplicaSet's count, and the ended pods it no longer counts:
// the count is out of those that exist) and, when that is not desired,
// how many are wanted; an example pod; the container when the pod has
// others:
//
//	ImagePullBackOff: not found (2 of 2 new pods; pod api-7d9f-x2k4)
//	CrashLoopBackOff: OOMKilled, exit code 137 (1 of 1 new pod, 3 wanted; pod api-7d9f-x2k4, container web)
//	FailedCreate: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2
func Describe(problems []Problem, newPods, desired int32) string {
	if len(problems) == 0 {
		return ""
	}
	p := problems[0]
	var b strings.Builder
	b.WriteString(p.Reason)
	if p.Cause != "" {
		b.WriteString(": " + p.Cause)
	}
	if p.Pods > 0 {
		for _, q := range problems {
			if q.failed {
				newPods += int32(q.Pods)
			}
		}
		of := max(newPods, int32(p.Pods))
		noun := "pods"
		if of == 1 {
			noun = "pod"
		}
		fmt.Fprintf(&b, " (%d of %d new %s", p.Pods, of, noun)
		if desired != of {
			fmt.Fprintf(&b, ", %d wanted", desired)
		}
		b.WriteString(PodNote(p))
		if p.nameContainer && p.Container != "" {
			if p.Init {
				b.WriteString(", init container " + p.Container)
			} else {
				b.WriteString(", container " + p.Container)
			}
		}
		b.WriteString(")")
	}
	if n := len(problems) - 1; n == 1 {
		b.WriteString("; and 1 other problem")
	} else if n > 1 {
		fmt.Fprintf(&b, "; and %d other problems", n)
	}
	return b.String()
}
