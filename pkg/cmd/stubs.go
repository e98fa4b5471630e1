package cmd

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Placeholders until their issues land; each says so and exits non-zero.

func notImplemented(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(use + " is not implemented yet")
		},
	}
}

func NewCmdScale(_ *genericclioptions.ConfigFlags, _ genericiooptions.IOStreams) *cobra.Command {
	return notImplemented("scale", "Change a Deployment's replicas")
}

func NewCmdSetImage(_ *genericclioptions.ConfigFlags, _ genericiooptions.IOStreams) *cobra.Command {
	return notImplemented("set-image", "Change a Deployment's container images")
}
