package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// SetImageOptions are the options of `kubectl deploywatch set-image`.
type SetImageOptions struct {
	changeOptions

	request  operations.ImageRequest
	problems []string
}

// NewSetImageOptions returns SetImageOptions with defaults.
func NewSetImageOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *SetImageOptions {
	o := &SetImageOptions{changeOptions: newChangeOptions(configFlags, streams, "image updated")}
	o.undoable = true
	return o
}

// NewCmdSetImage builds `kubectl deploywatch set-image`.
func NewCmdSetImage(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdSetImage(NewSetImageOptions(configFlags, streams))
}

func newCmdSetImage(o *SetImageOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set-image DEPLOYMENT|sts/NAME|ds/NAME CONTAINER=IMAGE [CONTAINER=IMAGE ...]",
		Short: "Change a Deployment's container images, and optionally follow the rollout",
		Long: `Set container images of a Deployment's pod template. "*=IMAGE" sets every
container and init container, as kubectl set image does; a container also named
gets its own image. Images are checked as the kubelet parses them before
anything is sent, and the change is a JSON patch that touches only the images,
guarded by each one's old value: an image someone else changed meanwhile is
never overwritten (a conflict, exit 1).
Nothing is written when every image is already as asked.

With --wait, the rollout is followed until the Deployment is Running (exit 0)
or Failed (exit 1), or --timeout runs out (exit 2).`,
		Example: `  # Set the image of container web
  kubectl deploywatch set-image web web=nginx:1.27

  # Every container, then follow the rollout
  kubectl deploywatch set-image web '*=registry.example.com/app:v2' --wait

  # Only if nobody changed the Deployment since resourceVersion 4711
  kubectl deploywatch set-image web web=nginx:1.27 --resource-version=4711`,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeImageArgs(o.configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	o.addFlags(cmd)
	return cmd
}

// Complete builds the clients and the request.
func (o *SetImageOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.complete(cmd, args); err != nil {
		return err
	}
	o.request = operations.ImageRequest{
		Kind: o.kind, Namespace: o.clients.Namespace, Name: o.name,
		ResourceVersion: o.ResourceVersion, DryRun: operations.DryRunMode(o.DryRun),
	}
	if len(args) == 0 {
		return nil
	}
	images, err := operations.ParseImageArgs(args[1:])
	for _, p := range operations.ProblemsOf(err) {
		o.problems = append(o.problems, p.Message)
	}
	o.request.Images = images
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *SetImageOptions) Validate() error {
	var ps []string
	if len(o.args) == 0 {
		ps = append(ps, "no deployment given: name one, e.g. 'kubectl deploywatch set-image web web=nginx:1.27'")
	}
	ps = append(ps, o.problems...)
	for _, p := range operations.ProblemsOf(o.request.Validate()) {
		// Images were checked, and reported, while parsing.
		if p.Field == "images" && (len(o.args) == 0 || len(o.problems) > 0) {
			continue
		}
		if (p.Field == "name" || p.Field == "kind") && (len(o.args) == 0 || o.argProblem != "") {
			continue
		}
		ps = append(ps, p.Message)
	}
	ps = append(ps, o.changeOptions.problems()...)
	return joinProblems(ps)
}

// Run sets the images, prints the result and, with --wait, follows the
// rollout.
func (o *SetImageOptions) Run(ctx context.Context) error {
	if err := o.checkCanWatch(ctx); err != nil {
		return err
	}
	res, err := operations.SetImages(ctx, o.clients.Kube.AppsV1(), o.request)
	if err != nil {
		return o.explain(ctx, err)
	}
	return o.finish(ctx, res, "image updated")
}
