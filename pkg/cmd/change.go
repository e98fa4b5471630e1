package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// defaultWaitTimeout bounds --wait unless --timeout says otherwise: long
// enough for an ordinary rollout, short enough that a forgotten CI job does
// not hang for the 10 minutes of a Deployment's default progress deadline
// (helm's --wait uses the same default).
const defaultWaitTimeout = 5 * time.Minute

// changeOptions are what scale and set-image share: the target, --dry-run,
// --resource-version, -o, --wait and --timeout, printing the result and
// following the rollout.
type changeOptions struct {
	configFlags *genericclioptions.ConfigFlags
	PrintFlags  *genericclioptions.PrintFlags
	genericiooptions.IOStreams

	DryRun          string
	ResourceVersion string
	Wait            bool
	Timeout         time.Duration
	FailingGrace    time.Duration
	FailOnGap       bool
	// undoable: undo takes the change back (see gate.Request.Undoable).
	undoable bool

	// IsTerminal reports whether a writer is a terminal; tests replace it.
	IsTerminal func(io.Writer) bool
	// TerminalSize reports the terminal's columns and rows.
	TerminalSize func(io.Writer) (int, int)

	// Filled in by complete.
	clients *clients
	args    []string
	name    string
	// kind is the workload's, from kubectl's TYPE/NAME; argProblem says
	// what is wrong with a TYPE it does not know.
	kind       operations.Kind
	argProblem string
	timeoutSet bool
	dryRun     operations.DryRunMode
}

func newChangeOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, operation string) changeOptions {
	return changeOptions{
		configFlags: configFlags,
		// The type setter gives typed objects their apiVersion and kind,
		// which the client strips and every printer needs.
		PrintFlags:   genericclioptions.NewPrintFlags(operation).WithTypeSetter(scheme.Scheme),
		IOStreams:    streams,
		DryRun:       string(operations.DryRunNone),
		Timeout:      defaultWaitTimeout,
		FailingGrace: gate.DefaultFailingGrace,
		IsTerminal:   isTerminal, TerminalSize: terminalSize,
	}
}

func (o *changeOptions) addFlags(cmd *cobra.Command) {
	o.PrintFlags.AddFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (validate and print what would change, send nothing) or "server" (the API server checks the change and persists nothing)`)
	fs.Lookup("dry-run").NoOptDefVal = string(operations.DryRunClient)
	fs.StringVar(&o.ResourceVersion, "resource-version", o.ResourceVersion, "precondition: change only if the Deployment's resourceVersion is still this")
	fs.BoolVar(&o.Wait, "wait", o.Wait, "after the change, follow the rollout until it is Running (exit 0) or fails (exit 1)")
	fs.DurationVar(&o.FailingGrace, "failing-grace", o.FailingGrace, "with --wait: exit 1 once the rollout has been Failing this long (its pods cannot pull, crash, cannot be scheduled or created)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "with --wait: give up after this long (exit 2); 0 waits until Running or Failed")
	fs.BoolVar(&o.FailOnGap, "fail-on-gap", o.FailOnGap, "with --wait: exit 1 when a Service of the Deployment had a serving gap during the wait (no ready endpoint, or fewer than its strategy keeps), even if the rollout finished, or when serving could not be seen")
}

// complete builds the clients and takes the Deployment's name from args[0].
func (o *changeOptions) complete(cmd *cobra.Command, args []string) error {
	if o.clients == nil { // tests set their own
		c, err := newClients(o.configFlags)
		if err != nil {
			return err
		}
		o.clients = c
	}
	o.args = args
	if len(args) > 0 {
		o.kind, o.name, o.argProblem = workloadName(args[0])
	}
	o.timeoutSet = cmd.Flags().Changed("timeout")
	if mode, err := operations.ParseDryRun(o.DryRun); err == nil {
		o.dryRun = mode
	} else {
		o.dryRun = operations.DryRunNone // reported by Validate
	}
	return nil
}

// workloadName accepts NAME (a Deployment) and kubectl's TYPE/NAME forms
// for Deployments, StatefulSets and DaemonSets; problem names any other TYPE.
func workloadName(arg string) (kind operations.Kind, name, problem string) {
	kind, name, err := operations.ParseWorkload(arg)
	if ps := operations.ProblemsOf(err); len(ps) > 0 {
		problem = ps[0].Message
	}
	return kind, name, problem
}

// problems reports what is wrong with the shared flags.
func (o *changeOptions) problems() []string {
	var ps []string
	if o.argProblem != "" {
		ps = append(ps, o.argProblem)
	}
	if o.FailOnGap && o.kind != operations.Deployment {
		// Serving (Services, their endpoints) is read for Deployments alone.
		ps = append(ps, fmt.Sprintf("--fail-on-gap applies to deployments only, not %s/%s: drop --fail-on-gap", o.kind.Short(), o.name))
	}
	if _, err := o.PrintFlags.ToPrinter(); err != nil {
		ps = append(ps, fmt.Sprintf("-o %s: %v", o.output(), err))
	}
	if o.Timeout < 0 {
		ps = append(ps, fmt.Sprintf("--timeout must not be negative, got %s", o.Timeout))
	}
	if o.timeoutSet && !o.Wait {
		ps = append(ps, "--timeout only applies with --wait; add --wait or drop --timeout")
	}
	if o.FailOnGap && !o.Wait {
		ps = append(ps, "--fail-on-gap only applies with --wait; add --wait or drop --fail-on-gap")
	}
	if o.Wait && o.dryRun != operations.DryRunNone {
		ps = append(ps, "--wait has nothing to follow with --dry-run: nothing changes; drop one of them")
	}
	return ps
}

// requestProblems are the request's own problems, without those about its
// name when the arguments were wrong already.
func requestProblems(err error, argsWrong bool) []string {
	var ps []string
	for _, p := range operations.ProblemsOf(err) {
		if argsWrong && (p.Field == "name" || p.Field == "kind") {
			continue
		}
		ps = append(ps, p.Message)
	}
	return ps
}

func joinProblems(ps []string) error {
	if len(ps) == 0 {
		return nil
	}
	return errors.New(strings.Join(ps, "; "))
}

func (o *changeOptions) output() string {
	if o.PrintFlags.OutputFormat == nil {
		return ""
	}
	return *o.PrintFlags.OutputFormat
}

// checkCanWatch makes sure, before anything is written, that --wait will be
// able to follow the rollout of every kind changed (o.kind when none is
// given): a change whose wait fails at once for want of permission would
// leave the user unsure of what happened.
func (o *changeOptions) checkCanWatch(ctx context.Context, kinds ...operations.Kind) error {
	if !o.Wait {
		return nil
	}
	if len(kinds) == 0 {
		kinds = []operations.Kind{o.kind}
	}
	for _, k := range kinds {
		if err := o.checkCanWatchKind(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (o *changeOptions) checkCanWatchKind(ctx context.Context, kind operations.Kind) error {
	ns := o.clients.Namespace
	for _, verb := range []string{"list", "watch"} {
		review, err := o.clients.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: "apps", Resource: kind.Resource(),
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil // cannot ask: let the wait itself report what it meets
		}
		if !review.Status.Allowed {
			return fmt.Errorf("--wait needs list and watch on %s in namespace %q, and you may not %s them; nothing was changed; check with 'kubectl auth can-i %s %s -n %s', or drop --wait",
				kind.Resource(), ns, verb, verb, kind.Resource(), ns)
		}
	}
	return nil
}

// explain turns an error of pkg/operations, or any other, into one line.
func (o *changeOptions) explain(ctx context.Context, err error) error {
	t := o.clients.target(o.name)
	t.Noun = o.kind.Noun()
	return explain.Operation(ctx, err, t)
}

// finish prints the result and, with --wait, follows the rollout.
func (o *changeOptions) finish(ctx context.Context, res operations.Result, operation string) error {
	if !res.Changed {
		operation = "unchanged"
	}
	if err := o.print(res, operation+res.DryRun.Suffix()); err != nil {
		return err
	}
	if !o.Wait {
		return nil
	}
	return o.wait(ctx, res)
}

// print writes the result as kubectl does: "deployment.apps/web scaled"
// ("statefulset.apps/db scaled"), or
// the object with -o json|yaml|... (the Scale object the API server
// returned, for scale: it is what RBAC on deployments/scale may read).
func (o *changeOptions) print(res operations.Result, operation string) error {
	o.PrintFlags.NamePrintFlags.Operation = operation
	printer, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	obj := res.Object
	if out := o.output(); out == "" || out == "name" || obj == nil {
		obj = res.Kind.Empty(res.Namespace, res.Name)
	}
	obj = obj.DeepCopyObject()
	if err := printer.PrintObj(obj, o.Out); err != nil {
		return err
	}
	if res.DryRun.Suffix() == "" || !res.Changed || (o.output() != "" && o.output() != "name") {
		return nil // the object printed with -o shows the change itself
	}
	for _, c := range res.Changes {
		if c.From == c.To {
			continue // a container the change leaves as it is
		}
		fmt.Fprintln(o.Out, "  "+changeLine(c))
	}
	return nil
}

// changeLine says what a dry run would change: "replicas 3 -> 5",
// "container web: nginx:1.25 -> nginx:1.26".
func changeLine(c operations.Change) string {
	sep := " "
	if strings.Contains(c.What, "container ") {
		sep = ": "
	}
	return c.What + sep + c.From + " -> " + c.To
}

// progressOut is where --wait shows the rollout: standard output, unless -o
// asked for the object there, which must stay parseable.
func (o *changeOptions) progressOut() io.Writer {
	if o.output() != "" {
		return o.ErrOut
	}
	return o.Out
}

// wait follows the rollout with the shared tracker and prints its progress:
// a live table on a terminal, one row per change when piped.
func (o *changeOptions) wait(ctx context.Context, res operations.Result) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	out := o.progressOut()
	var p printer
	var sink tracker.Sink
	if o.IsTerminal(out) {
		title := fmt.Sprintf("rollout of %s %q in namespace %q", res.Kind.Noun(), res.Name, res.Namespace)
		p = printers.NewLive(out, printers.Options{Color: os.Getenv("NO_COLOR") == ""}, title, func() (int, int) { return o.TerminalSize(out) })
		sink = p
	} else {
		p = printers.NewStream(out, printers.Options{})
		sink = printers.RolloutNotice(p, o.ErrOut) // what the rollout cost, beside the rows
	}
	req := gate.ForChange(res)
	req.Diagnose, req.FailingGrace = tracker.DiagnoseWith(o.clients.Kube), o.FailingGrace
	req.Undoable, req.Target = o.undoable, stepTarget(o.configFlags)
	req.FailOnGap = o.FailOnGap
	last, err := gate.Wait(ctx, o.clients.Kube.AppsV1(), req, sink)
	if closeErr := p.Close(); closeErr != nil && !isBrokenPipe(closeErr) && err == nil {
		return fmt.Errorf("writing output: %w", closeErr)
	}
	err = req.Closing(last, err, o.Timeout)
	var end *gate.Error
	switch {
	case err == nil:
		fmt.Fprintln(out, req.Success())
		return nil
	case errors.As(err, &end):
		return exitOf(ctx, end)
	}
	return o.explain(ctx, err)
}

// intFlag is an integer flag kept as typed, so that Validate can report a
// value that is no integer together with every other problem, rather than
// cobra stopping at the first.
type intFlag struct {
	raw string
	set bool
}

func (f *intFlag) String() string     { return f.raw }
func (f *intFlag) Set(s string) error { f.raw, f.set = s, true; return nil }
func (f *intFlag) Type() string       { return "int" }

// parse returns the value, or a problem naming the flag.
func (f *intFlag) parse(flag string) (*int32, string) {
	if !f.set {
		return nil, ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(f.raw), 10, 32)
	if err != nil {
		return nil, fmt.Sprintf("%s must be a whole number, got %q", flag, f.raw)
	}
	v := int32(n)
	return &v, ""
}

// oneDeployment reports args that do not name exactly one Deployment, for
// the commands that change one: verb is the command, example a use of it.
func oneDeployment(args []string, verb, example string) []string {
	switch {
	case len(args) == 0:
		return []string{fmt.Sprintf("no deployment given: name one, e.g. '%s'", example)}
	case len(args) > 1:
		return []string{fmt.Sprintf("%s takes one deployment, got %d arguments: %q", verb, len(args), args)}
	}
	return nil
}
