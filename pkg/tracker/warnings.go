package tracker

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

// This file is the warnings: package safety's rules, run on a Deployment
// whenever it, or a Service or PodDisruptionBudget that selects its pods,
// is seen or changes. They read the Services informer serving reads, and
// a PodDisruptionBudgets informer of their own.

// warnings are the rules that fire on d now; nil when Services are not
// read. Without PodDisruptionBudgets the rule that wants one is left out
// rather than fired wrongly.
func (t *Tracker) warnings(d *appsv1.Deployment) []deployment.Warning {
	if t.services == nil || t.servicesOff.Load() {
		return nil
	}
	var pdbs []*policyv1.PodDisruptionBudget
	if t.pdbs != nil && !t.pdbsOff.Load() {
		objs, _ := t.pdbs.GetIndexer().ByIndex(cache.NamespaceIndex, d.Namespace)
		for _, o := range objs {
			if p, ok := o.(*policyv1.PodDisruptionBudget); ok {
				pdbs = append(pdbs, p)
			}
		}
	}
	fs := safety.CheckDeployment(d, t.servicesSelecting(d), pdbs)
	if t.pdbs == nil || t.pdbsOff.Load() {
		fs = slices.DeleteFunc(fs, func(f safety.Finding) bool { return f.Rule == safety.NoPDB })
	}
	return deployment.WarningsOf(fs)
}

// onPDBChange is the PodDisruptionBudgets informer's handler: the
// Deployments whose pods it guarded or guards now are checked again.
func (t *Tracker) onPDBChange(sink Sink, oldObj, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return
	}
	old, _ := oldObj.(*policyv1.PodDisruptionBudget)
	objs, _ := t.deployments.GetIndexer().ByIndex(cache.NamespaceIndex, p.Namespace)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range objs {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			continue
		}
		if safety.PDBSelectsPods(p, d) || (old != nil && safety.PDBSelectsPods(old, d)) {
			t.refreshLocked(sink, d.Namespace+"/"+d.Name)
		}
	}
}
