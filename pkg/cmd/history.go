package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
)

// historyFormats are the values of history's -o.
var historyFormats = []string{"table", "json", "ndjson"}

// HistoryOptions are the options of `kubectl deploywatch history`.
type HistoryOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Revision intFlag
	Output   string
	// Now is the time ages are counted from; tests set it.
	Now func() time.Time

	clients    *clients
	args       []string
	request    operations.HistoryRequest
	problems   []string
	argProblem string
}

// NewHistoryOptions returns HistoryOptions with defaults.
func NewHistoryOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *HistoryOptions {
	return &HistoryOptions{configFlags: configFlags, IOStreams: streams, Output: "table", Now: time.Now}
}

// NewCmdHistory builds `kubectl deploywatch history`.
func NewCmdHistory(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdHistory(NewHistoryOptions(configFlags, streams))
}

func newCmdHistory(o *HistoryOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history DEPLOYMENT|sts/NAME|ds/NAME [--revision N]",
		Short: "List a Deployment's revisions: images, change cause, age, replicas, which is current",
		Long: `List the revisions of a Deployment, newest first, from the ReplicaSets it
controls: the images of each, the change cause where one was recorded
(the kubernetes.io/change-cause annotation), when it was made, how many pods
it has now, and which one is current. These are the revisions 'undo' can go
back to. Needs get on deployments and list on replicasets.

A StatefulSet (sts/NAME) or DaemonSet (ds/NAME) lists its ControllerRevisions
instead (needs list on controllerrevisions); they count no pods, so READY
is "-".`,
		Example: `  # The revisions of web
  kubectl deploywatch history web

  # One revision, for a script
  kubectl deploywatch history web --revision 3 -o json`,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeDeployments(o.configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	cmd.Flags().Var(&o.Revision, "revision", "show this revision alone")
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "output format: "+strings.Join(historyFormats, ", "))
	return cmd
}

// Complete builds the clients and the request.
func (o *HistoryOptions) Complete(cmd *cobra.Command, args []string) error {
	if o.clients == nil { // tests set their own
		c, err := newClients(o.configFlags)
		if err != nil {
			return err
		}
		o.clients = c
	}
	o.args = args
	o.request = operations.HistoryRequest{Namespace: o.clients.Namespace}
	if len(args) > 0 {
		o.request.Kind, o.request.Name, o.argProblem = workloadName(args[0])
	}
	rev, problem := o.Revision.parse("--revision")
	switch {
	case problem != "":
		o.problems = append(o.problems, problem)
	case rev != nil && *rev <= 0:
		o.problems = append(o.problems, fmt.Sprintf("--revision must be a positive number, got %d; list them with 'kubectl deploywatch history %s'", *rev, o.request.Name))
	case rev != nil:
		o.request.Revision = int64(*rev)
	}
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *HistoryOptions) Validate() error {
	var ps []string
	argsWrong := len(o.args) != 1 || o.argProblem != ""
	ps = append(ps, oneDeployment(o.args, "history", "kubectl deploywatch history web")...)
	if o.argProblem != "" {
		ps = append(ps, o.argProblem)
	}
	ps = append(ps, o.problems...)
	ps = append(ps, requestProblems(o.request.Validate(), argsWrong)...)
	if !slices.Contains(historyFormats, o.Output) {
		ps = append(ps, fmt.Sprintf("unknown output format %q: use one of %s", o.Output, strings.Join(historyFormats, ", ")))
	}
	return joinProblems(ps)
}

// Run reads the history and prints it.
func (o *HistoryOptions) Run(ctx context.Context) error {
	h, err := operations.GetHistory(ctx, o.clients.Kube.AppsV1(), o.request)
	if err != nil {
		t := o.clients.target(o.request.Name)
		t.Noun = o.request.Kind.Noun()
		return explain.Operation(ctx, err, t)
	}
	switch o.Output {
	case "json":
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	case "ndjson":
		enc := json.NewEncoder(o.Out)
		for _, r := range h.Revisions {
			line := struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
				operations.Revision
			}{h.Namespace, h.Name, r}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		return nil
	}
	if len(h.Revisions) == 0 {
		_, err := fmt.Fprintf(o.Out, "%s %q in namespace %q has no revisions yet\n", h.Kind.Noun(), h.Name, h.Namespace)
		return err
	}
	now := o.Now()
	rows := make([][]string, 0, len(h.Revisions))
	for _, r := range h.Revisions {
		current, cause := "", r.ChangeCause
		if r.Current {
			current = "*"
		}
		if cause == "" {
			cause = "<none>"
		}
		ready := "-" // a ControllerRevision does not count its pods
		if r.Replicas != nil && r.ReadyReplicas != nil {
			ready = fmt.Sprintf("%d/%d", *r.ReadyReplicas, *r.Replicas)
		}
		rows = append(rows, []string{strconv.FormatInt(r.Revision, 10), current, ready, duration.HumanDuration(now.Sub(r.Created)), revisionImages(r), cause})
	}
	return printers.WriteTable(o.Out, []string{"REVISION", "CURRENT", "READY", "AGE", "IMAGES", "CHANGE-CAUSE"}, rows)
}

// revisionImages is "web=nginx:1.27,init:migrate=app:1".
func revisionImages(r operations.Revision) string {
	var parts []string
	for _, c := range r.Containers {
		parts = append(parts, c.String())
	}
	for _, c := range r.InitContainers {
		parts = append(parts, "init:"+c.String())
	}
	return strings.Join(parts, ",")
}
