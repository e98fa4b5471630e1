package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// rolloutOptions are what restart, pause and resume share: one or more
// Deployments, each changed by do, the results printed as kubectl does.
type rolloutOptions struct {
	changeOptions

	verb    string // "restart"
	done    string // "restarted"
	canWait bool
	do      func(ctx context.Context, t workload) (operations.Result, error)
	// validate checks the request for one name without a request.
	validate func(t workload) error

	names []workload
	// argProblems name the TYPEs of TYPE/NAME it does not know.
	argProblems []string
}

// workload is one TYPE/NAME argument.
type workload struct {
	kind operations.Kind
	name string
}

func newRolloutOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, verb, done string, canWait bool) rolloutOptions {
	return rolloutOptions{changeOptions: newChangeOptions(configFlags, streams, done), verb: verb, done: done, canWait: canWait}
}

// addRolloutFlags registers the shared change flags; pause and resume start
// no rollout, so they have no --wait.
func (o *rolloutOptions) addRolloutFlags(cmd *cobra.Command) {
	if o.canWait {
		o.addFlags(cmd)
		return
	}
	o.PrintFlags.AddFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (validate and print what would change, send nothing) or "server" (the API server checks the change and persists nothing)`)
	fs.Lookup("dry-run").NoOptDefVal = string(operations.DryRunClient)
	fs.StringVar(&o.ResourceVersion, "resource-version", o.ResourceVersion, "precondition: change only if the Deployment's resourceVersion is still this (one deployment only)")
}

func (o *rolloutOptions) newCommand(use, short, long, example string) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeMoreDeployments(o.configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	o.addRolloutFlags(cmd)
	return cmd
}

// Complete builds the clients and takes the names.
func (o *rolloutOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, args); err != nil {
		return err
	}
	// Every argument is read below; the first one's, read by complete, is
	// not reported twice.
	o.kind, o.argProblem = operations.Deployment, ""
	o.names, o.argProblems = nil, nil
	for _, a := range args {
		kind, name, problem := workloadName(a)
		if problem != "" {
			o.argProblems = append(o.argProblems, problem)
			continue
		}
		o.names = append(o.names, workload{kind, name})
	}
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *rolloutOptions) Validate() error {
	var ps []string
	ps = append(ps, o.argProblems...)
	if len(o.names) == 0 && len(o.argProblems) == 0 {
		ps = append(ps, fmt.Sprintf("no deployment given: name one or more, e.g. 'kubectl deploywatch %s web'", o.verb))
		ps = append(ps, requestProblems(o.validate(workload{name: "web"}), true)...)
	}
	seen := map[workload]bool{}
	for i, t := range o.names {
		if seen[t] {
			ps = append(ps, fmt.Sprintf("%s %q is given more than once", t.kind.Noun(), t.name))
			continue
		}
		seen[t] = true
		for _, p := range operations.ProblemsOf(o.validate(t)) {
			if i == 0 || p.Field == "name" || p.Field == "kind" { // the other fields are the same for every name
				ps = append(ps, p.Message)
			}
		}
	}
	for _, t := range o.names {
		if o.FailOnGap && t.kind != operations.Deployment {
			o.kind, o.name = t.kind, t.name // changeOptions.problems refuses --fail-on-gap on it
			break
		}
	}
	if o.ResourceVersion != "" && len(o.names) > 1 {
		ps = append(ps, "--resource-version is one Deployment's: give one deployment with it, or drop it")
	}
	ps = append(ps, o.changeOptions.problems()...)
	return joinProblems(ps)
}

// Run changes every Deployment, printing each result, then with --wait
// follows their rollouts one after the other. With several Deployments an
// error does not stop the others: each is printed as it comes, and the exit
// code is the first failure's.
func (o *rolloutOptions) Run(ctx context.Context) error {
	var kinds []operations.Kind
	for _, t := range o.names {
		if !slices.Contains(kinds, t.kind) {
			kinds = append(kinds, t.kind)
		}
	}
	if err := o.checkCanWatch(ctx, kinds...); err != nil {
		return err
	}
	var failed error
	fail := func(err error) {
		if len(o.names) == 1 {
			failed = err
			return
		}
		fmt.Fprintln(o.ErrOut, "error: "+oneLine(err.Error()))
		printNextSteps(o.ErrOut, err)
		if failed == nil {
			failed = err
		}
	}
	var changed []operations.Result
	for _, t := range o.names {
		o.kind, o.name = t.kind, t.name
		res, err := o.do(ctx, t)
		if err != nil {
			fail(o.explain(ctx, err))
			continue
		}
		operation := o.done
		if !res.Changed {
			operation = "unchanged"
		}
		if err := o.print(res, operation+res.DryRun.Suffix()); err != nil {
			return err
		}
		if res.Changed {
			changed = append(changed, res)
		}
	}
	if o.Wait {
		for _, res := range changed {
			o.kind, o.name = res.Kind, res.Name
			if err := o.wait(ctx, res); err != nil {
				fail(err)
			}
		}
	}
	if failed == nil || len(o.names) == 1 {
		return failed
	}
	code := exitFailure
	var exit *ExitError
	if errors.As(failed, &exit) {
		code = exit.Code
	}
	return &ExitError{Code: code, Err: silent{failed}} // printed above already
}

// silent is an error already printed: Execute prints nothing for it.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }

// completeMoreDeployments offers the names of the namespace's Deployments
// not given yet, for commands that take several.
func completeMoreDeployments(getter genericclioptions.RESTClientGetter) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	one := completeDeployments(getter)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names, directive := one(cmd, nil, toComplete)
		names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args, n) })
		return names, directive
	}
}

// NewCmdRestart builds `kubectl deploywatch restart`.
func NewCmdRestart(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newRolloutOptions(configFlags, streams, "restart", "restarted", true)
	o.undoable = true
	return newCmdRestart(&o)
}

func newCmdRestart(o *rolloutOptions) *cobra.Command {
	request := func(t workload) operations.RestartRequest {
		return operations.RestartRequest{Kind: t.kind, Namespace: o.clients.Namespace, Name: t.name,
			ResourceVersion: o.ResourceVersion, DryRun: operations.DryRunMode(o.DryRun)}
	}
	o.validate = func(t workload) error { return request(t).Validate() }
	o.do = func(ctx context.Context, t workload) (operations.Result, error) {
		return operations.Restart(ctx, o.clients.Kube.AppsV1(), request(t))
	}
	return o.newCommand("restart DEPLOYMENT|sts/NAME|ds/NAME...",
		"Replace every pod of Deployments, under their rollout strategy, and optionally follow the rollouts",
		`Set the kubectl.kubernetes.io/restartedAt annotation of each Deployment's pod
template to the time now (RFC 3339), as 'kubectl rollout restart' does: the
template changes, so the controller replaces every pod under the Deployment's
strategy. A paused Deployment is refused with nothing written: resume it first.
Needs get and patch on deployments.

With --wait, the rollouts are followed, one after the other, until each is
Running (exit 0) or one is Failed (exit 1), or --timeout (for each) runs out
(exit 2); StatefulSets and DaemonSets alike (--fail-on-gap is for Deployments
only). With several Deployments, one that cannot be restarted does not stop
the others; its error is printed and the exit code is 1.`,
		`  # Restart web and api, then follow both rollouts
  kubectl deploywatch restart web api --wait

  # Only if nobody changed web since resourceVersion 4711
  kubectl deploywatch restart web --resource-version 4711`)
}
