package cmd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/version"
)

// VersionOptions prints the build's version.
type VersionOptions struct {
	genericiooptions.IOStreams
	Output string
}

// NewVersionOptions returns VersionOptions with defaults.
func NewVersionOptions(streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{IOStreams: streams}
}

// NewCmdVersion builds `kubectl deploywatch version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVersionOptions(streams)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json, or empty for text")
	return cmd
}

// Complete has nothing to fill in.
func (o *VersionOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf("unknown output format %q for version; use -o json or leave it out", o.Output)
	}
	return nil
}

// Run prints the version.
func (o *VersionOptions) Run(context.Context) error {
	info := version.Get()
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-deploywatch %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
	return err
}
