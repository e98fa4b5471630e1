package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// NewCmdPause builds `kubectl deploywatch pause`.
func NewCmdPause(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newRolloutOptions(configFlags, streams, "pause", "paused", false)
	return newCmdPaused(&o, true)
}

// NewCmdResume builds `kubectl deploywatch resume`.
func NewCmdResume(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newRolloutOptions(configFlags, streams, "resume", "resumed", false)
	return newCmdPaused(&o, false)
}

func newCmdPaused(o *rolloutOptions, paused bool) *cobra.Command {
	request := func(t workload) operations.PauseRequest {
		return operations.PauseRequest{Kind: t.kind, Namespace: o.clients.Namespace, Name: t.name, Paused: paused,
			ResourceVersion: o.ResourceVersion, DryRun: operations.DryRunMode(o.DryRun)}
	}
	o.validate = func(t workload) error { return request(t).Validate() }
	o.do = func(ctx context.Context, t workload) (operations.Result, error) {
		return operations.SetPaused(ctx, o.clients.Kube.AppsV1(), request(t))
	}
	if paused {
		return o.newCommand("pause DEPLOYMENT...",
			"Pause Deployments: changes to their pod template roll out only once resumed",
			`Set spec.paused on each Deployment. A paused Deployment keeps its pods as they
are and rolls out no change of its pod template until it is resumed, so that
several changes can be made and rolled out as one. Nothing is written for a
Deployment that is paused already ("unchanged"). Needs get and patch on
deployments. StatefulSets and DaemonSets cannot be paused, as in kubectl.`,
			`  # Pause web, change two images, resume: one rollout
  kubectl deploywatch pause web
  kubectl deploywatch set-image web web=nginx:1.27 sidecar=envoy:1.31
  kubectl deploywatch resume web`)
	}
	return o.newCommand("resume DEPLOYMENT...",
		"Resume paused Deployments, rolling out what changed meanwhile",
		`Clear spec.paused on each Deployment: the controller then rolls out any change
of the pod template made while it was paused. Nothing is written for a
Deployment that is not paused ("unchanged"). Needs get and patch on
deployments. Follow the rollout with 'kubectl deploywatch watch'.`,
		`  # Resume web and api
  kubectl deploywatch resume web api`)
}
