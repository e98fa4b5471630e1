package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// ScaleOptions are the options of `kubectl deploywatch scale`.
type ScaleOptions struct {
	changeOptions

	Replicas        intFlag
	CurrentReplicas intFlag

	request operations.ScaleRequest
	// problems found while completing, reported by Validate with the rest.
	problems []string
}

// NewScaleOptions returns ScaleOptions with defaults.
func NewScaleOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *ScaleOptions {
	return &ScaleOptions{changeOptions: newChangeOptions(configFlags, streams, "scaled")}
}

// NewCmdScale builds `kubectl deploywatch scale`.
func NewCmdScale(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdScale(NewScaleOptions(configFlags, streams))
}

func newCmdScale(o *ScaleOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scale DEPLOYMENT|sts/NAME --replicas=N",
		Short: "Change a Deployment's replicas, and optionally follow the rollout",
		Long: `Set the number of replicas of a Deployment through its scale subresource, so
RBAC on deployments/scale (get, update) is enough. Nothing is written when the
count is already N, or when a precondition does not hold.

With --wait, the rollout is followed until the Deployment is Running (exit 0)
or Failed (exit 1), or --timeout runs out (exit 2).

When a HorizontalPodAutoscaler targets the Deployment, a warning says it will
undo the change; with --wait, another replica count set meanwhile (by the
autoscaler or anyone) ends the wait with exit 1.

A StatefulSet is scaled as sts/NAME (or statefulset/NAME), as in kubectl; a
bare NAME is a Deployment. A DaemonSet cannot be scaled. --wait follows a
StatefulSet's rollout as a Deployment's; --fail-on-gap is for Deployments only.`,
		Example: `  # Scale web to 5 replicas
  kubectl deploywatch scale web --replicas=5

  # Only if it has 3 now, then follow the rollout for at most 2 minutes
  kubectl deploywatch scale web --replicas=5 --current-replicas=3 --wait --timeout=2m

  # Ask the API server whether it would accept the change
  kubectl deploywatch scale web --replicas=0 --dry-run=server`,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeDeployments(o.configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	cmd.Flags().Var(&o.Replicas, "replicas", "the number of replicas to have (required)")
	cmd.Flags().Var(&o.CurrentReplicas, "current-replicas", "precondition: scale only if the Deployment has this many replicas now")
	o.addFlags(cmd)
	return cmd
}

// Complete builds the clients and the request.
func (o *ScaleOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, args); err != nil {
		return err
	}
	o.request = operations.ScaleRequest{
		Kind: o.kind, Namespace: o.clients.Namespace, Name: o.name,
		ResourceVersion: o.ResourceVersion, DryRun: operations.DryRunMode(o.DryRun),
	}
	replicas, problem := o.Replicas.parse("--replicas")
	switch {
	case !o.Replicas.set:
		o.problems = append(o.problems, "--replicas is required, e.g. --replicas=3")
	case problem != "":
		o.problems = append(o.problems, problem)
	default:
		o.request.Replicas = *replicas
	}
	current, problem := o.CurrentReplicas.parse("--current-replicas")
	if problem != "" {
		o.problems = append(o.problems, problem)
	}
	o.request.CurrentReplicas = current
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *ScaleOptions) Validate() error {
	var ps []string
	argsWrong := len(o.args) != 1 || o.argProblem != ""
	ps = append(ps, oneDeployment(o.args, "scale", "kubectl deploywatch scale web --replicas=3")...)
	ps = append(ps, o.problems...)
	ps = append(ps, requestProblems(o.request.Validate(), argsWrong)...)
	ps = append(ps, o.changeOptions.problems()...)
	return joinProblems(ps)
}

// Run scales, prints the result and, with --wait, follows the rollout.
func (o *ScaleOptions) Run(ctx context.Context) error {
	if err := o.checkCanWatch(ctx); err != nil {
		return err
	}
	res, err := operations.Scale(ctx, o.clients.Kube.AppsV1(), o.request)
	if err != nil {
		return o.explain(ctx, err)
	}
	operations.NoteAutoscalers(ctx, o.clients.Kube.AutoscalingV2(), &res)
	if res.Warning != "" {
		fmt.Fprintln(o.ErrOut, "warning: "+res.Warning)
	}
	return o.finish(ctx, res, "scaled")
}
