package operations

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// object is what a change reads and writes: a workload, or its scale.
type object interface {
	runtime.Object
	metav1.Object
}

// change is one guarded change, as readPlanWrite carries it out.
type change[T object] struct {
	namespace, name string
	dryRun          DryRunMode
	// access names what the change needs, for an error of the read.
	access access
	// read reads the object as it is now.
	read func(ctx context.Context) (T, error)
	// plan checks the object just read against the request's preconditions
	// and decides what to write. lost is the error of the previous round's
	// write (nil in the first round), attempt the round, from 1: a plan may
	// tell from the object why that write was refused. An error ends the
	// change with nothing written.
	plan func(ctx context.Context, current T, lost error, attempt int) (plan[T], error)
	// again decides, when the write of round attempt failed with err,
	// whether to read and plan again (a concurrent writer may have caused
	// it) or to end the change with the error it returns.
	again func(err error, attempt int) (bool, error)
}

// plan is what one round decided.
type plan[T object] struct {
	// changes are the result's: what differs, or what was asked for when
	// nothing does.
	changes []Change
	// send writes the change, with dryRun as the API server's dryRun
	// option (nil or All), guarded by a precondition the API server checks
	// (a resourceVersion, or a JSON patch's test ops); nil when the object
	// already is as asked.
	send func(ctx context.Context, dryRun []string) (T, error)
	// local is the object as the write would make it, for a client dry run.
	local func() (runtime.Object, error)
}

// readPlanWrite is the shape of every change: read the object, plan the
// change from what was read, and write it with a precondition, so that
// nothing is written over a concurrent edit; when the write is refused in a
// way a concurrent writer may have caused, read again and plan again (each
// change's again and plan bound the rounds). Nothing is written when the
// object already is as asked, nor with a client dry run, which returns the
// object as the write would make it; a server dry run sends the write with
// dryRun=All.
func readPlanWrite[T object](ctx context.Context, c change[T]) (Result, error) {
	dryRun, _ := ParseDryRun(string(c.dryRun))
	var lost error
	for attempt := 1; ; attempt++ {
		current, err := c.read(ctx)
		if err != nil {
			return Result{}, apiError(err, c.namespace, c.name, c.access)
		}
		p, err := c.plan(ctx, current, lost, attempt)
		if err != nil {
			return Result{}, err
		}
		res := Result{
			Kind: c.access.kind, Namespace: c.namespace, Name: c.name, DryRun: dryRun,
			Changes: p.changes, Object: current,
			ResourceVersion: current.GetResourceVersion(), Generation: current.GetGeneration(),
		}
		if p.send == nil {
			return res, nil
		}
		res.Changed = true
		if dryRun == DryRunClient {
			obj, err := p.local()
			if err != nil {
				return Result{}, err
			}
			res.Object = obj
			return res, nil
		}
		var opts []string
		if dryRun == DryRunServer {
			opts = []string{metav1.DryRunAll}
		}
		written, err := p.send(ctx, opts)
		if err != nil {
			again, end := c.again(err, attempt)
			if !again {
				return Result{}, end
			}
			lost = err
			continue
		}
		res.Object = written
		res.ResourceVersion, res.Generation = written.GetResourceVersion(), written.GetGeneration()
		return res, nil
	}
}
