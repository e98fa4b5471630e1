// Package safety holds the rollout-safety rules: the settings of a
// Deployment, and of the Services and PodDisruptionBudgets that select its
// pods, that make a rollout or a drain cost users requests (no ready pod
// during a rollout, traffic to a pod still starting, requests cut when a pod
// stops). It reads objects only; it talks to no cluster, so the same rules
// run on a cluster's objects, on manifests, and on the live view's own
// caches.
package safety

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Level says how much a finding matters.
type Level string

const (
	// Warning: the setting costs requests in an ordinary rollout.
	Warning Level = "warning"
	// Notice: the setting costs requests in a rarer event (a node drain).
	Notice Level = "notice"
)

// Levels are the levels, most severe first.
var Levels = []Level{Warning, Notice}

// AtLeast says whether l is at least as severe as other.
func (l Level) AtLeast(other Level) bool {
	return slices.Index(Levels, l) <= slices.Index(Levels, other)
}

// The rules' stable ids.
const (
	RolloutDropsAllPods     = "rollout-drops-all-pods"
	NoReadinessProbe        = "no-readiness-probe"
	NoPreStop               = "no-prestop"
	GraceShorterThanPreStop = "grace-shorter-than-prestop"
	NoPDB                   = "no-pdb"
)

// Rule describes one rule.
type Rule struct {
	ID    string
	Level Level
	// When says when it fires, in one line.
	When string
}

// Rules are the rules, in the order findings are given.
var Rules = []Rule{
	{RolloutDropsAllPods, Warning, "a Service selects the pods and a rollout may leave none ready: strategy Recreate, or a resolved maxUnavailable of at least the replicas"},
	{NoReadinessProbe, Warning, "a container a Service sends requests to has no readinessProbe (nor startupProbe); a notice when minReadySeconds is set"},
	{NoPreStop, Warning, "a Service selects the pods and no container has a preStop hook"},
	{GraceShorterThanPreStop, Warning, "terminationGracePeriodSeconds is not longer than the preStop sleep"},
	{NoPDB, Notice, "2 or more replicas and no PodDisruptionBudget selects the pods"},
}

// Finding is one rule that fires on one Deployment.
type Finding struct {
	// Rule is the rule's stable id, e.g. "no-prestop".
	Rule       string `json:"rule"`
	Level      Level  `json:"level"`
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	// Container is the container the finding is about, when it is about one.
	Container string `json:"container,omitempty"`
	// Message says what is wrong and what it costs, in one line.
	Message string `json:"message"`
	// Fix says what to change, in one line.
	Fix string `json:"fix"`
}

// Check runs every rule on every Deployment, each with the Services and
// PodDisruptionBudgets of its namespace. Findings come by namespace, name,
// then in the order of Rules.
func Check(deployments []*appsv1.Deployment, services []*corev1.Service, pdbs []*policyv1.PodDisruptionBudget) []Finding {
	svcByNS := map[string][]*corev1.Service{}
	for _, s := range services {
		svcByNS[s.Namespace] = append(svcByNS[s.Namespace], s)
	}
	pdbByNS := map[string][]*policyv1.PodDisruptionBudget{}
	for _, p := range pdbs {
		pdbByNS[p.Namespace] = append(pdbByNS[p.Namespace], p)
	}
	sorted := slices.Clone(deployments)
	slices.SortStableFunc(sorted, func(a, b *appsv1.Deployment) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	var out []Finding
	for _, d := range sorted {
		out = append(out, CheckDeployment(d, svcByNS[d.Namespace], pdbByNS[d.Namespace])...)
	}
	return out
}

// CheckDeployment runs every rule on one Deployment. services and pdbs may
// hold any namespace's: only those of the Deployment's namespace count.
// This is the entry point for a view that checks a Deployment whenever it,
// or a Service or PodDisruptionBudget of its namespace, changes.
func CheckDeployment(d *appsv1.Deployment, services []*corev1.Service, pdbs []*policyv1.PodDisruptionBudget) []Finding {
	c := &checker{d: d, pod: labels.Set(d.Spec.Template.Labels)}
	for _, s := range services {
		if SelectsPods(s, d) {
			c.services = append(c.services, s)
		}
	}
	for _, p := range pdbs {
		if PDBSelectsPods(p, d) {
			c.pdbs = append(c.pdbs, p)
		}
	}
	c.rolloutDropsAllPods()
	c.noReadinessProbe()
	c.noPreStop()
	c.graceShorterThanPreStop()
	c.noPDB()
	return c.out
}

// SelectsPods says whether Service s sends requests to Deployment d's pods:
// same namespace, a non-empty selector (a Service without one has no
// endpoints the control plane manages) that the pod template's labels match.
// An ExternalName Service selects nothing.
func SelectsPods(s *corev1.Service, d *appsv1.Deployment) bool {
	if s.Namespace != d.Namespace || len(s.Spec.Selector) == 0 || s.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	return labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
}

// PDBSelectsPods says whether PodDisruptionBudget p guards Deployment d's
// pods. In policy/v1 an empty selector selects every pod of the namespace,
// and no selector none.
func PDBSelectsPods(p *policyv1.PodDisruptionBudget, d *appsv1.Deployment) bool {
	if p.Namespace != d.Namespace {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil { // refused by the API server; it guards nothing
		return false
	}
	return sel.Matches(labels.Set(d.Spec.Template.Labels))
}

type checker struct {
	d        *appsv1.Deployment
	pod      labels.Set
	services []*corev1.Service
	pdbs     []*policyv1.PodDisruptionBudget
	out      []Finding
}

func (c *checker) add(rule string, level Level, container, message, fix string) {
	c.out = append(c.out, Finding{Rule: rule, Level: level, Namespace: c.d.Namespace, Deployment: c.d.Name,
		Container: container, Message: message, Fix: fix})
}

// serviceNames is `Service "web"` or `Services "web", "web-admin"`.
func (c *checker) serviceNames() string {
	names := make([]string, len(c.services))
	for i, s := range c.services {
		names[i] = strconv.Quote(s.Name)
	}
	if len(names) == 1 {
		return "Service " + names[0]
	}
	return "Services " + strings.Join(names, ", ")
}

// verb is singular or plural to agree with serviceNames.
func (c *checker) verb(one, many string) string {
	if len(c.services) == 1 {
		return one
	}
	return many
}

func (c *checker) rolloutDropsAllPods() {
	replicas := Replicas(c.d)
	if len(c.services) == 0 || replicas == 0 {
		return
	}
	if IsRecreate(c.d) {
		c.add(RolloutDropsAllPods, Warning, "",
			fmt.Sprintf("strategy Recreate stops all %s before it starts new ones: %s %s no ready endpoint until a new pod is ready", pods(replicas), c.serviceNames(), c.verb("has", "have")),
			"use strategy RollingUpdate with maxSurge: 1 and maxUnavailable: 0")
		return
	}
	r, err := resolve(c.d)
	if err != nil || min(r.unavailable, replicas) < replicas {
		return
	}
	how := fmt.Sprintf("maxSurge %s and maxUnavailable %s come to %d and %d for %s", r.maxSurge.String(), r.maxUnavailable.String(), r.surge, min(r.unavailable, replicas), pods(replicas))
	if r.raised {
		how = fmt.Sprintf("maxSurge %s and maxUnavailable %s both come to 0 for %s, so the controller takes maxUnavailable 1", r.maxSurge.String(), r.maxUnavailable.String(), pods(replicas))
	}
	c.add(RolloutDropsAllPods, Warning, "",
		how+fmt.Sprintf(": a rollout may stop every pod before a new one is ready, and %s then %s no ready endpoint", c.serviceNames(), c.verb("has", "have")),
		"set strategy.rollingUpdate maxSurge: 1 and maxUnavailable: 0, so a new pod is ready before an old one stops")
}

func pods(n int32) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}

// servingContainers are the containers that take the Services' requests:
// those with a port a Service targets; failing that, those with any port.
// none is true when no container declares a port, so which one serves is
// unknown. Restartable init containers (sidecars) count: they can serve and
// their readiness is the pod's.
func (c *checker) servingContainers() (serving []*corev1.Container, none bool) {
	var withPorts []*corev1.Container
	for _, ctr := range c.running() {
		if len(ctr.Ports) == 0 {
			continue
		}
		withPorts = append(withPorts, ctr)
		if c.targeted(ctr) {
			serving = append(serving, ctr)
		}
	}
	if len(serving) > 0 {
		return serving, false
	}
	return withPorts, len(withPorts) == 0
}

// running are the containers that run beside each other for the pod's
// life: restartable init containers (sidecars), then the containers.
func (c *checker) running() []*corev1.Container {
	spec := &c.d.Spec.Template.Spec
	var all []*corev1.Container
	for i := range spec.InitContainers {
		if p := spec.InitContainers[i].RestartPolicy; p != nil && *p == corev1.ContainerRestartPolicyAlways {
			all = append(all, &spec.InitContainers[i])
		}
	}
	for i := range spec.Containers {
		all = append(all, &spec.Containers[i])
	}
	return all
}

// targeted says whether a selecting Service sends to one of ctr's ports: a
// targetPort by number or name, or, without one, the Service's port number.
func (c *checker) targeted(ctr *corev1.Container) bool {
	for _, s := range c.services {
		for _, sp := range s.Spec.Ports {
			for _, cp := range ctr.Ports {
				switch {
				case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "" && sp.TargetPort.StrVal == cp.Name:
					return true
				case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0 && sp.TargetPort.IntVal == cp.ContainerPort:
					return true
				case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0 && sp.Port == cp.ContainerPort:
					return true
				}
			}
		}
	}
	return false
}

// portName is "port 8080" or `port 8080 ("http")`.
func portName(ctr *corev1.Container) string {
	p := ctr.Ports[0]
	if p.Name != "" {
		return fmt.Sprintf("port %d (%q)", p.ContainerPort, p.Name)
	}
	return fmt.Sprintf("port %d", p.ContainerPort)
}

// guardsReadiness: a readinessProbe keeps a pod out of the Services until it
// passes; so does a startupProbe until it first passes (a container is not
// ready before it has started), which is what a rollout needs.
func guardsReadiness(ctr *corev1.Container) bool {
	return ctr.ReadinessProbe != nil || ctr.StartupProbe != nil
}

func (c *checker) noReadinessProbe() {
	if len(c.services) == 0 {
		return
	}
	level, also := Warning, ""
	if s := c.d.Spec.MinReadySeconds; s > 0 {
		level = Notice
		also = fmt.Sprintf("; minReadySeconds %d keeps the old pods until a new one has been ready that long, but the new pod gets requests from its start", s)
	}
	serving, none := c.servingContainers()
	if none {
		if slices.ContainsFunc(c.running(), guardsReadiness) {
			return
		}
		c.add(NoReadinessProbe, level, "",
			fmt.Sprintf("no container has a readinessProbe (and none declares a port): %s %s requests to a new pod as soon as it starts, before the application is ready%s", c.serviceNames(), c.verb("sends", "send"), also),
			"add a readinessProbe on the port the Service targets to the container that serves it")
		return
	}
	for _, ctr := range serving {
		if guardsReadiness(ctr) {
			continue
		}
		c.add(NoReadinessProbe, level, ctr.Name,
			fmt.Sprintf("container %q serves %s behind %s and has no readinessProbe: a new pod gets requests as soon as it starts, before the application is ready%s", ctr.Name, portName(ctr), c.serviceNames(), also),
			fmt.Sprintf("add a readinessProbe on %s: an httpGet of a path that answers once the application is ready, or a tcpSocket", portName(ctr)))
	}
}

func (c *checker) noPreStop() {
	if len(c.services) == 0 {
		return
	}
	running := c.running()
	if slices.ContainsFunc(running, hasPreStop) {
		return
	}
	container, where := "", "to the container that serves"
	if serving, none := c.servingContainers(); !none {
		container, where = serving[0].Name, fmt.Sprintf("to container %q", serving[0].Name)
	} else if len(running) == 1 {
		container, where = running[0].Name, fmt.Sprintf("to container %q", running[0].Name)
	}
	c.add(NoPreStop, Warning, container,
		fmt.Sprintf("no container has a preStop hook: a stopping pod gets SIGTERM while %s may still send it requests (endpoint removal races SIGTERM), and those fail", c.serviceNames()),
		fmt.Sprintf("add lifecycle.preStop.sleep.seconds: 5 %s (Kubernetes 1.30 or later; before, exec [\"sleep\", \"5\"] in an image that has sleep)", where))
}

func (c *checker) graceShorterThanPreStop() {
	spec := &c.d.Spec.Template.Spec
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	for _, ctr := range c.running() {
		sleep, ok := preStopSleep(ctr)
		if !ok || float64(grace) > sleep {
			continue
		}
		if math.IsInf(sleep, 1) {
			c.add(GraceShorterThanPreStop, Warning, ctr.Name,
				fmt.Sprintf("container %q's preStop hook sleeps forever: every stop waits the whole terminationGracePeriodSeconds of %d, then the container gets SIGTERM and is killed 2 s later, before it can finish its requests", ctr.Name, grace),
				"sleep a few seconds in the preStop hook, e.g. lifecycle.preStop.sleep.seconds: 5")
			continue
		}
		c.add(GraceShorterThanPreStop, Warning, ctr.Name,
			fmt.Sprintf("terminationGracePeriodSeconds %d is not longer than container %q's preStop sleep of %s s: the grace period counts from before the hook, so the container gets SIGTERM only when it is over and is killed 2 s later, before it can finish its requests", grace, ctr.Name, strconv.FormatFloat(sleep, 'f', -1, 64)),
			fmt.Sprintf("set terminationGracePeriodSeconds to the preStop sleep plus the longest request, e.g. %d", int64(math.Ceil(sleep))+30))
	}
}

func (c *checker) noPDB() {
	replicas := Replicas(c.d)
	if replicas < 2 || len(c.pdbs) > 0 {
		return
	}
	c.add(NoPDB, Notice, "",
		fmt.Sprintf("no PodDisruptionBudget selects its %s: a node drain or another eviction may stop them all at once (PodDisruptionBudgets guard drains and evictions; rolling updates are not limited by them)", pods(replicas)),
		"add a policy/v1 PodDisruptionBudget whose selector matches the pod template's labels, with maxUnavailable: 1")
}
