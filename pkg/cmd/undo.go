package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// UndoOptions are the options of `kubectl deploywatch undo`.
type UndoOptions struct {
	changeOptions

	ToRevision intFlag

	request  operations.UndoRequest
	problems []string
}

// NewUndoOptions returns UndoOptions with defaults.
func NewUndoOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *UndoOptions {
	return &UndoOptions{changeOptions: newChangeOptions(configFlags, streams, "rolled back")}
}

// NewCmdUndo builds `kubectl deploywatch undo`.
func NewCmdUndo(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdUndo(NewUndoOptions(configFlags, streams))
}

func newCmdUndo(o *UndoOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "undo DEPLOYMENT|sts/NAME|ds/NAME [--to-revision N]",
		Short: "Roll a Deployment back to an earlier revision, and optionally follow the rollout",
		Long: `Put the pod template of an earlier revision (see 'history') back into a
Deployment: the previous one, or --to-revision N. The template is the one its
ReplicaSet keeps, without the pod-template-hash label, with the annotations
(the change cause among them) recorded with it, as 'kubectl rollout undo'
writes it; the deployment controller then scales that ReplicaSet up again.

The change is a JSON patch that tests the resourceVersion it was planned from:
if anyone changed the Deployment in between, nothing is written. Refused with
nothing written: a revision that does not exist, the current revision, and a
paused Deployment (resume it first). Needs get and patch on deployments and
list on replicasets.

With --wait, the rollout is followed until the Deployment is Running (exit 0)
or Failed (exit 1), or --timeout runs out (exit 2).

A StatefulSet (sts/NAME) or DaemonSet (ds/NAME) gets back the template its
ControllerRevision holds, as 'kubectl rollout undo' writes it; the controller
then renumbers that revision as the newest. Needs list on controllerrevisions.
--wait follows their rollouts as a Deployment's; --fail-on-gap is for
Deployments only.`,
		Example: `  # Back to the previous revision, and follow the rollout
  kubectl deploywatch undo web --wait

  # Back to revision 3, only if nobody changed web since resourceVersion 4711
  kubectl deploywatch undo web --to-revision 3 --resource-version 4711

  # What would revision 3 look like?
  kubectl deploywatch undo web --to-revision 3 --dry-run=client -o yaml`,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeDeployments(o.configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	cmd.Flags().Var(&o.ToRevision, "to-revision", "the revision to go back to (see 'history'); default: the previous one")
	o.addFlags(cmd)
	return cmd
}

// Complete builds the clients and the request.
func (o *UndoOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, args); err != nil {
		return err
	}
	o.request = operations.UndoRequest{
		Kind: o.kind, Namespace: o.clients.Namespace, Name: o.name,
		ResourceVersion: o.ResourceVersion, DryRun: operations.DryRunMode(o.DryRun),
	}
	rev, problem := o.ToRevision.parse("--to-revision")
	switch {
	case problem != "":
		o.problems = append(o.problems, problem)
	case rev != nil && *rev <= 0:
		o.problems = append(o.problems, fmt.Sprintf("--to-revision must be a positive number, got %d; leave it out for the previous revision", *rev))
	case rev != nil:
		o.request.ToRevision = int64(*rev)
	}
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *UndoOptions) Validate() error {
	var ps []string
	argsWrong := len(o.args) != 1 || o.argProblem != ""
	ps = append(ps, oneDeployment(o.args, "undo", "kubectl deploywatch undo web")...)
	ps = append(ps, o.problems...)
	ps = append(ps, requestProblems(o.request.Validate(), argsWrong)...)
	ps = append(ps, o.changeOptions.problems()...)
	return joinProblems(ps)
}

// Run undoes, prints the result and, with --wait, follows the rollout.
func (o *UndoOptions) Run(ctx context.Context) error {
	if err := o.checkCanWatch(ctx); err != nil {
		return err
	}
	res, err := operations.Undo(ctx, o.clients.Kube.AppsV1(), o.request)
	if err != nil {
		return o.explain(ctx, err)
	}
	operation := "rolled back"
	if len(res.Changes) > 0 && res.Changes[0].What == "revision" {
		operation += " to revision " + res.Changes[0].To
	}
	return o.finish(ctx, res, operation)
}
