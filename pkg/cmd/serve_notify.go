package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/leader"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// notifyOptions are serve's notification flags (see pkg/notify/leader and
// pkg/notify/webhook).
type notifyOptions struct {
	Webhooks       []string
	On             []string
	Format         string
	Namespaces     []string
	LeaseNamespace string
	LeaseName      string
	Identity       string
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration

	changed []string // notification flags set on the command line
	both    []string // problems: a flag given under its new and its former name
}

func newNotifyOptions() notifyOptions {
	on := make([]string, len(leader.DefaultKinds))
	for i, k := range leader.DefaultKinds {
		on[i] = string(k)
	}
	return notifyOptions{
		On:            on,
		Format:        string(webhook.JSON),
		LeaseName:     leader.DefaultLeaseName,
		LeaseDuration: leader.DefaultLeaseDuration,
		RenewDeadline: leader.DefaultRenewDeadline,
		RetryPeriod:   leader.DefaultRetryPeriod,
	}
}

// renamedFlags are the leader election flags' former names: they took
// component-base's one prefix, --leader-elect-, as kube-scheduler's and
// kube-controller-manager's flags have it. The old names keep working,
// hidden, with a notice.
var renamedFlags = []struct{ old, now string }{
	{"leader-election-namespace", "leader-elect-resource-namespace"},
	{"leader-election-id", "leader-elect-resource-name"},
	{"leader-election-identity", "leader-elect-identity"},
}

func (o *notifyOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&o.Webhooks, "notify-webhook", o.Webhooks, "post a message to this URL on each status transition chosen by --notify-on (repeatable); one replica sends, chosen by a Lease")
	fs.StringSliceVar(&o.On, "notify-on", o.On, "transitions to notify (comma-separated): failed (into Failed), recovered (out of Failed), started (into Progressing), completed (Progressing to Running), failing (into Failing, with its cause)")
	fs.StringVar(&o.Format, "notify-format", o.Format, "message shape: json, or slack (Slack's incoming-webhook {\"text\": ...})")
	fs.StringSliceVar(&o.Namespaces, "notify-namespaces", o.Namespaces, "notify about these namespaces only (comma-separated); default all namespaces, which needs list and watch on Deployments cluster-wide (and on StatefulSets and DaemonSets to notify about them)")
	fs.StringVar(&o.LeaseNamespace, "leader-elect-resource-namespace", o.LeaseNamespace, "namespace of the notification Lease and its ConfigMaps of sent transitions; default the kubeconfig's (in a pod, its own)")
	fs.StringVar(&o.LeaseName, "leader-elect-resource-name", o.LeaseName, "name of the notification Lease; its ConfigMaps are named after it with -state-0 to -state-15; replicas with the same one share the sending")
	fs.StringVar(&o.Identity, "leader-elect-identity", o.Identity, "this replica's name in the Lease; default the host name with a random suffix")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "how long a lost leader's lease stays valid before another replica takes over")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "how long the leader keeps trying to renew before it stops sending; less than the lease duration")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "how often replicas try to take or renew the lease; less than the renew deadline")
	for _, r := range renamedFlags {
		// The same Value under the old name; MarkDeprecated also hides it.
		f := fs.Lookup(r.now)
		fs.AddFlag(&pflag.Flag{Name: r.old, Usage: f.Usage, Value: f.Value, DefValue: f.DefValue})
		_ = fs.MarkDeprecated(r.old, "use --"+r.now+" instead")
	}
	// pflag writes the notice to the flag set's output, which cobra copies
	// to stdout; serve's stdout is the line with its URL that scripts read.
	fs.SetOutput(writerFunc(func(p []byte) (int, error) { return cmd.ErrOrStderr().Write(p) }))
}

// writerFunc is an io.Writer; the function looks up where to write when
// written to, after the command tree has its streams.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// complete records which notification flags were set, for validate.
func (o *notifyOptions) complete(cmd *cobra.Command, defaultNamespace string) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "notify-webhook" && (strings.HasPrefix(f.Name, "notify-") || strings.HasPrefix(f.Name, "leader-elect")) {
			o.changed = append(o.changed, "--"+f.Name)
		}
	})
	for _, r := range renamedFlags {
		if cmd.Flags().Changed(r.old) && cmd.Flags().Changed(r.now) {
			o.both = append(o.both, fmt.Sprintf("--%s and its former name --%s are both set: keep --%s only", r.now, r.old, r.now))
		}
	}
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = defaultNamespace
	}
	if o.Identity == "" {
		o.Identity = defaultIdentity()
	}
}

// validate returns every problem with the notification flags.
func (o *notifyOptions) validate() []string {
	if len(o.Webhooks) == 0 {
		if len(o.changed) > 0 { // also covers o.both
			return []string{fmt.Sprintf("%s has no use without --notify-webhook: add a webhook URL or drop the flag", strings.Join(o.changed, ", "))}
		}
		return nil
	}
	problems := append([]string(nil), o.both...)
	for _, u := range o.Webhooks {
		if err := webhook.ValidateURL(u); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if _, err := leader.ParseKinds(o.On); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := webhook.ParseFormat(o.Format); err != nil {
		problems = append(problems, err.Error())
	}
	for _, ns := range o.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("invalid namespace %q in --notify-namespaces: %s", ns, errs[0]))
		}
	}
	if errs := validation.IsDNS1123Label(o.LeaseNamespace); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("invalid --leader-elect-resource-namespace %q: %s", o.LeaseNamespace, errs[0]))
	}
	// The ConfigMaps' names are the Lease's with "-state-N".
	if errs := validation.IsDNS1123Subdomain(fmt.Sprintf("%s-state-%d", o.LeaseName, leader.Shards-1)); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("invalid --leader-elect-resource-name %q: %s", o.LeaseName, errs[0]))
	}
	if strings.TrimSpace(o.Identity) == "" {
		problems = append(problems, "--leader-elect-identity is empty: give each replica a unique name, or drop the flag")
	}
	if err := leader.ValidateTimings(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// start starts the notifier, or does nothing without webhooks. wait stops
// it and returns once it has stopped, its Lease released.
func (o *notifyOptions) start(ctx context.Context, c *clients, log *slog.Logger) (n *leader.Notifier, wait func(), err error) {
	if len(o.Webhooks) == 0 {
		return nil, func() {}, nil
	}
	kinds, _ := leader.ParseKinds(o.On)        // validated
	format, _ := webhook.ParseFormat(o.Format) // validated
	n, err = leader.New(leader.Options{
		Deployments:    c.Kube.AppsV1(),
		Workloads:      c.Kube.AppsV1(),
		Diagnose:       tracker.DiagnoseWith(c.Kube),
		ConfigMaps:     c.Kube.CoreV1(),
		Leases:         c.Kube.CoordinationV1(),
		Namespaces:     o.Namespaces,
		On:             kinds,
		Webhook:        webhook.Options{URLs: o.Webhooks, Format: format},
		LeaseNamespace: o.LeaseNamespace,
		LeaseName:      o.LeaseName,
		Identity:       o.Identity,
		LeaseDuration:  o.LeaseDuration,
		RenewDeadline:  o.RenewDeadline,
		RetryPeriod:    o.RetryPeriod,
		Logger:         log.With("component", "notify"),
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	if err := n.Start(ctx); err != nil {
		cancel()
		hint := "notifications need list and watch on Deployments in every namespace; name some with --notify-namespaces"
		if len(o.Namespaces) > 0 {
			hint = "notifications need list and watch on Deployments in each of --notify-namespaces"
		}
		return nil, nil, explain.API(err, c.Config.Host, hint)
	}
	log.Info("notifying", "webhooks", len(o.Webhooks), "on", kinds, "format", format, "namespaces", o.Namespaces,
		"lease", o.LeaseNamespace+"/"+o.LeaseName, "identity", o.Identity)
	// Cancelling first lets a Run that fails later return.
	return n, func() { cancel(); n.Wait() }, nil
}

// defaultIdentity is unique per process, as client-go's examples make it:
// two replicas on one host (or a restarted pod) never share a name.
func defaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "deploywatch"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "_" + hex.EncodeToString(b[:])
}
