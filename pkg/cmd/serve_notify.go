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
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// notifyOptions are serve's notification flags (see pkg/notify).
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
}

func newNotifyOptions() notifyOptions {
	on := make([]string, len(notify.DefaultKinds))
	for i, k := range notify.DefaultKinds {
		on[i] = string(k)
	}
	return notifyOptions{
		On:            on,
		Format:        string(notify.JSON),
		LeaseName:     notify.DefaultLeaseName,
		LeaseDuration: notify.DefaultLeaseDuration,
		RenewDeadline: notify.DefaultRenewDeadline,
		RetryPeriod:   notify.DefaultRetryPeriod,
	}
}

func (o *notifyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Webhooks, "notify-webhook", o.Webhooks, "post a message to this URL on each status transition chosen by --notify-on (repeatable); one replica sends, chosen by a Lease")
	fs.StringSliceVar(&o.On, "notify-on", o.On, "transitions to notify (comma-separated): failed (into Failed), recovered (out of Failed), started (into Progressing), completed (Progressing to Running), failing (into Failing, with its cause)")
	fs.StringVar(&o.Format, "notify-format", o.Format, "message shape: json, or slack (Slack's incoming-webhook {\"text\": ...})")
	fs.StringSliceVar(&o.Namespaces, "notify-namespaces", o.Namespaces, "notify about these namespaces only (comma-separated); default all namespaces, which needs list and watch on Deployments cluster-wide")
	fs.StringVar(&o.LeaseNamespace, "leader-election-namespace", o.LeaseNamespace, "namespace of the notification Lease and its ConfigMaps of sent transitions; default the kubeconfig's (in a pod, its own)")
	fs.StringVar(&o.LeaseName, "leader-election-id", o.LeaseName, "name of the notification Lease; its ConfigMaps are named after it with -state-0 to -state-15; replicas with the same one share the sending")
	fs.StringVar(&o.Identity, "leader-election-identity", o.Identity, "this replica's name in the Lease; default the host name with a random suffix")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "how long a lost leader's lease stays valid before another replica takes over")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "how long the leader keeps trying to renew before it stops sending; less than the lease duration")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "how often replicas try to take or renew the lease; less than the renew deadline")
}

// complete records which notification flags were set, for validate.
func (o *notifyOptions) complete(cmd *cobra.Command, defaultNamespace string) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "notify-webhook" && (strings.HasPrefix(f.Name, "notify-") || strings.HasPrefix(f.Name, "leader-elect")) {
			o.changed = append(o.changed, "--"+f.Name)
		}
	})
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
		if len(o.changed) > 0 {
			return []string{fmt.Sprintf("%s has no use without --notify-webhook: add a webhook URL or drop the flag", strings.Join(o.changed, ", "))}
		}
		return nil
	}
	var problems []string
	for _, u := range o.Webhooks {
		if err := notify.ValidateWebhook(u); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if _, err := notify.ParseKinds(o.On); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := notify.ParseFormat(o.Format); err != nil {
		problems = append(problems, err.Error())
	}
	for _, ns := range o.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("invalid namespace %q in --notify-namespaces: %s", ns, errs[0]))
		}
	}
	if errs := validation.IsDNS1123Label(o.LeaseNamespace); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("invalid --leader-election-namespace %q: %s", o.LeaseNamespace, errs[0]))
	}
	// The ConfigMaps' names are the Lease's with "-state-N".
	if errs := validation.IsDNS1123Subdomain(fmt.Sprintf("%s-state-%d", o.LeaseName, notify.Shards-1)); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("invalid --leader-election-id %q: %s", o.LeaseName, errs[0]))
	}
	if strings.TrimSpace(o.Identity) == "" {
		problems = append(problems, "--leader-election-identity is empty: give each replica a unique name, or drop the flag")
	}
	if err := notify.ValidateTimings(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// start starts the notifier, or does nothing without webhooks. wait stops
// it and returns once it has stopped, its Lease released.
func (o *notifyOptions) start(ctx context.Context, c *clients, log *slog.Logger) (n *notify.Notifier, wait func(), err error) {
	if len(o.Webhooks) == 0 {
		return nil, func() {}, nil
	}
	kinds, _ := notify.ParseKinds(o.On)       // validated
	format, _ := notify.ParseFormat(o.Format) // validated
	n, err = notify.New(notify.Options{
		Deployments:    c.Kube.AppsV1(),
		Diagnose:       tracker.DiagnoseWith(c.Kube),
		ConfigMaps:     c.Kube.CoreV1(),
		Leases:         c.Kube.CoordinationV1(),
		Namespaces:     o.Namespaces,
		On:             kinds,
		Webhooks:       o.Webhooks,
		Format:         format,
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
