package gate

import (
	"fmt"
	"strings"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Step is a command that would help with a Deployment that failed a wait:
// a next step, as the command ends with it.
type Step struct {
	// Command is the whole command line, to copy and run.
	Command string
	// Why says what it does for this failure.
	Why string
}

// RolloutFailure is one Deployment that failed a wait: the line that says how,
// and its next steps.
type RolloutFailure struct {
	Message string
	Steps   []Step
}

// Target is how the next steps' commands reach the cluster the wait
// watched: the connection flags to repeat, each empty when it was not
// given. Credentials (--token, ...) are never repeated.
type Target struct {
	Kubeconfig string
	// Context is one context; a Deployment's own (in a view over several
	// contexts) comes first.
	Context string
}

// kinds of next step a failed rollout may have besides the pod's: which
// apply depends on what the wait was about.
type stepKinds struct {
	// undo: the previous revision is what would run again.
	undo bool
	// history: the revisions tell something about the failure.
	history bool
}

// stepsFor gives the next steps of s, which failed a wait: resume for a
// paused rollout; else undo and history as kinds says, and a look at the
// first pod the diagnosis names.
func stepsFor(s *deployment.Summary, t Target, kinds stepKinds) []Step {
	flags := t.flags(s)
	if s.Kind != "" && s.Kind != deployment.KindDeployment {
		return workloadSteps(s, flags, kinds)
	}
	deploywatch := func(verb string) string {
		return fmt.Sprintf("kubectl deploywatch %s %s %s", verb, quote(s.Name), flags)
	}
	if s.Status == deployment.Paused {
		why := "resume the rollout: it does not go on while paused"
		if s.Unstarted() {
			why = "start the rollout: it has no pods until resumed"
		}
		return []Step{{Command: deploywatch("resume"), Why: why}}
	}
	var steps []Step
	if kinds.undo {
		steps = append(steps, Step{Command: deploywatch("undo"), Why: "roll back to the previous revision"})
	}
	if kinds.history {
		steps = append(steps, Step{Command: deploywatch("history"), Why: "list its revisions and their images"})
	}
	for _, p := range s.Problems {
		if p.Pod != "" {
			steps = append(steps, Step{Command: fmt.Sprintf("kubectl describe pod %s %s", quote(p.Pod), flags),
				Why: fmt.Sprintf("the state and events of a pod with %s", p.Reason)})
			break
		}
	}
	return steps
}

// workloadSteps are the next steps of a StatefulSet or DaemonSet that
// failed a wait: undo when kinds says so; the pod to delete when the
// rollout waits on it (OrderedReady), or, after that undo, the broken new
// pod that the rollback would not replace (OrderedReady too); kubectl's
// history of its revisions, and a look at the first pod the diagnosis
// names.
func workloadSteps(s *deployment.Summary, flags string, kinds stepKinds) []Step {
	var steps []Step
	// An OnDelete rollout (Paused) goes on when its pods are deleted, not by undo.
	kinds.undo = kinds.undo && s.Status != deployment.Paused
	if kinds.undo {
		steps = append(steps, Step{Command: fmt.Sprintf("kubectl deploywatch undo %s %s", quote(s.ShortName()), flags),
			Why: "roll back to the previous revision"})
	}
	for _, p := range s.Problems {
		if p.Blocking && p.Pod != "" {
			steps = append(steps, Step{Command: deployment.DeletePodCommand(quote(p.Pod), flags),
				Why: "the rollout waits for this old pod to be ready (podManagementPolicy OrderedReady); the controller makes it anew at the update revision"})
			break
		}
		if kinds.undo && s.OrderedReady && p.Pod != "" && p.Reason != "NodeNotReady" {
			steps = append(steps, Step{Command: deployment.DeletePodCommand(quote(p.Pod), flags),
				Why: "after the undo: under podManagementPolicy OrderedReady the rollback does not replace this broken pod until it is deleted"})
			break
		}
	}
	steps = append(steps, Step{Command: fmt.Sprintf("kubectl rollout history %s %s", quote(s.Noun()+"/"+s.Name), flags),
		Why: "list its revisions"})
	for _, p := range s.Problems {
		if p.Pod != "" {
			steps = append(steps, Step{Command: fmt.Sprintf("kubectl describe pod %s %s", quote(p.Pod), flags),
				Why: fmt.Sprintf("the state and events of a pod with %s", p.Reason)})
			break
		}
	}
	return steps
}

// flags are the flags every next step of s takes: its namespace, and the
// context and kubeconfig the wait used.
func (t Target) flags(s *deployment.Summary) string {
	flags := "-n " + quote(s.Namespace)
	context := t.Context
	if s.Context != "" {
		context = s.Context
	}
	if context != "" {
		flags += " --context " + quote(context)
	}
	if t.Kubeconfig != "" {
		flags += " --kubeconfig " + quote(t.Kubeconfig)
	}
	return flags
}

// quote makes s one word for a POSIX shell: as it is when that is safe
// (names of Kubernetes objects always are), else in single quotes.
func quote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+=", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
