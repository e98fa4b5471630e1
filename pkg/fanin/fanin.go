// Package fanin runs several trackers, one per source (a kubeconfig context
// and a namespace), into one sink, so one view shows Deployments of several
// namespaces and clusters. Each source keeps its own tracker (its own
// informers, health and diagnosis); fanin tags their events with the
// context, serializes them, tells the sink once when the first view is
// complete, and follows each source's state: a source that cannot start is
// retried by itself (Options.Retry) and never holds up the others for
// longer than Options.StartTimeout.
package fanin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// Source is one tracker's worth of the view.
type Source struct {
	// Context names the kubeconfig context; empty when the view has one.
	Context string
	Client  appsv1client.DeploymentsGetter
	// Options of the tracker; Options.Namespace says which namespace (""
	// for all). Options.OnError is told of the errors it retries after the
	// first sync; before it, they become State.Err.
	Options tracker.Options
	// Check, when set, runs before each attempt to start (a namespace that
	// does not exist, say); its error counts as the attempt's.
	Check func(context.Context) error
}

// Name says which source this is, for messages: `namespace "shop" in
// context "prod"`.
func (s *Source) Name() string { return name(s.Context, s.Options.Namespace) }

func name(context, namespace string) string {
	where := "all namespaces"
	if namespace != "" {
		where = fmt.Sprintf("namespace %q", namespace)
	}
	if context != "" {
		where += fmt.Sprintf(" in context %q", context)
	}
	return where
}

// State is where one source stands.
type State struct {
	Context   string
	Namespace string
	// Synced: its tracker has delivered its first view; from then on
	// Health says whether it is current.
	Synced bool
	// Err is why it has not synced yet: the last error of an attempt to
	// start, or that it did not answer within Options.StartTimeout. Nil
	// once synced, and while the first attempt is still young.
	Err error
	// Since is when the source began to fail to start (with Err), or when
	// its first sync came.
	Since  time.Time
	Health tracker.Health
	// Snapshot is the source's view at its first sync, set only in the
	// State that reports that sync: a source that syncs after the first
	// view brings its Deployments this way too (besides its ADDED events).
	Snapshot []deployment.Summary
}

// Name says which source this is, as Source.Name does.
func (s State) Name() string { return name(s.Context, s.Namespace) }

// TellSource passes st on to sink if it wants it: for sinks that wrap
// another.
func TellSource(sink tracker.Sink, st State) {
	if ss, ok := sink.(StateSink); ok {
		ss.OnSource(st)
	}
}

// Live says whether what the source shows is current.
func (s State) Live() bool {
	return s.Synced && (s.Health.State == "" || s.Health.State == tracker.Live)
}

// StateSink is a Sink that also follows the sources' states. OnSource is
// called, serialized with the events, on every change of a source's state.
type StateSink interface {
	tracker.Sink
	OnSource(State)
}

// Options shape Run.
type Options struct {
	// StartTimeout is how long the first view waits for a source that has
	// neither synced nor failed; 0 waits for every source.
	StartTimeout time.Duration
	// Retry retries a source whose start failed (several contexts: one
	// cluster down must not end the view of the others). Without it, the
	// first such failure ends Run with that error.
	Retry bool
	// Backoff is the wait before the next attempt (attempt counts from 1);
	// nil doubles from 1 s up to 30 s.
	Backoff func(attempt int) time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) backoff(attempt int) time.Duration {
	if o.Backoff != nil {
		return o.Backoff(attempt)
	}
	d := time.Second << min(attempt-1, 5)
	return min(d, 30*time.Second)
}

// SourceError is the error of a source that could not start, as Run
// returns it without Options.Retry.
type SourceError struct {
	Source string
	Err    error
}

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// merger is the one sink every source's tracker delivers to.
type merger struct {
	sink tracker.Sink
	now  func() time.Time

	mu       sync.Mutex
	states   []State
	settled  []bool // synced, failed once, or timed out: the first view need not wait
	synced   bool   // the first view has been delivered
	snapshot map[string]deployment.Summary
	// early holds the events before the first view, delivered with it as
	// tracker.Initial makes them: each source's tracker sorts its own, and
	// this sorts them across sources.
	early    []deployment.Event
	health   tracker.Health // the aggregate last delivered
	done     chan struct{}  // closed once every source has settled
	doneOnce sync.Once
}

// Run runs a tracker per source until ctx ends, delivering to sink. It
// returns nil when ctx ends; without Options.Retry, the first error of a
// source that cannot start (a *SourceError).
func Run(ctx context.Context, sources []Source, opts Options, sink tracker.Sink) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &merger{sink: sink, now: opts.Now, states: make([]State, len(sources)), settled: make([]bool, len(sources)),
		snapshot: map[string]deployment.Summary{}, done: make(chan struct{}),
		health: tracker.Health{State: tracker.Live, Since: opts.Now()}}
	for i, s := range sources {
		m.states[i] = State{Context: s.Context, Namespace: s.Options.Namespace}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	failed := make(chan error, len(sources))
	for i := range sources {
		wg.Go(func() {
			if err := m.runSource(ctx, i, sources[i], &opts); err != nil {
				failed <- err
				cancel()
			}
		})
	}
	if opts.StartTimeout > 0 {
		timer := time.AfterFunc(opts.StartTimeout, func() { m.timeout(opts.StartTimeout) })
		defer timer.Stop()
	}
	select {
	case <-m.done:
		m.firstView()
	case <-ctx.Done():
	}
	wg.Wait()
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}

// runSource starts source i's tracker, again after each failure with
// Retry, until ctx ends.
func (m *merger) runSource(ctx context.Context, i int, src Source, opts *Options) error {
	for attempt := 1; ; attempt++ {
		in := &input{m: m, i: i, context: src.Context}
		err := error(nil)
		if src.Check != nil {
			err = src.Check(ctx)
		}
		if err == nil {
			topts := src.Options
			onError := topts.OnError
			topts.OnError = func(err error) {
				if !in.syncedOnce() {
					m.startError(i, err, false)
					return
				}
				if onError != nil {
					onError(err)
				}
			}
			err = tracker.New(src.Client, topts).Run(ctx, in)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("the watch ended")
		}
		if !opts.Retry {
			return &SourceError{Source: src.Name(), Err: err}
		}
		m.startError(i, err, true)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.backoff(attempt)):
		}
	}
}

// startError records why source i has not synced; settle says the attempt
// has ended (it no longer holds up the first view).
func (m *merger) startError(i int, err error, settle bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &m.states[i]
	if st.Synced && !settle {
		return
	}
	if st.Synced {
		// A tracker that synced once ended: its rows stay, its state says why.
		st.Synced = false
	}
	changed := st.Err == nil || st.Err.Error() != err.Error()
	if st.Err == nil {
		st.Since = m.now()
	}
	st.Err = err
	if settle {
		m.settleLocked(i)
	}
	if changed {
		m.tellLocked(*st)
	}
}

// timeout settles every source that has not synced by now.
func (m *merger) timeout(after time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.states {
		if m.settled[i] {
			continue
		}
		st := &m.states[i]
		if st.Err == nil {
			st.Err = fmt.Errorf("no answer within %s; still trying", after)
			st.Since = m.now()
			m.tellLocked(*st)
		}
		m.settleLocked(i)
	}
}

func (m *merger) settleLocked(i int) {
	m.settled[i] = true
	for _, s := range m.settled {
		if !s {
			return
		}
	}
	m.doneOnce.Do(func() { close(m.done) })
}

// firstView delivers the first sync with what the synced sources hold.
func (m *merger) firstView() {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]deployment.Summary, 0, len(m.snapshot))
	for _, s := range m.snapshot {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b deployment.Summary) int { return deployment.Compare(&a, &b) })
	for _, e := range tracker.Initial(m.early) {
		m.sink.OnEvent(e)
	}
	m.snapshot, m.early = nil, nil
	m.synced = true
	m.sink.OnSynced(out)
	m.healthLocked() // a source lost before the first view
}

func (m *merger) tellLocked(st State) {
	if ss, ok := m.sink.(StateSink); ok {
		ss.OnSource(st)
	}
}

// healthLocked delivers the aggregate health, the worst of the synced
// sources', when it changed.
func (m *merger) healthLocked() {
	if !m.synced {
		return
	}
	worst := tracker.Health{State: tracker.Live}
	rank := map[tracker.State]int{"": 0, tracker.Live: 0, tracker.Relisting: 1, tracker.Reconnecting: 2}
	for _, st := range m.states {
		if !st.Synced {
			continue
		}
		h := st.Health
		if h.State == "" {
			continue
		}
		if rank[h.State] > rank[worst.State] || (rank[h.State] == rank[worst.State] && rank[h.State] > 0 && h.Since.Before(worst.Since)) {
			worst = h
			if st.Context != "" && h.Err != nil {
				worst.Err = fmt.Errorf("context %q: %w", st.Context, h.Err)
			}
		}
	}
	if worst.State == tracker.Live {
		if m.health.State == tracker.Live {
			return
		}
		worst.Since = m.now()
	} else if worst.State == m.health.State && worst.Since.Equal(m.health.Since) && fmt.Sprint(worst.Err) == fmt.Sprint(m.health.Err) {
		return
	}
	m.health = worst
	tracker.TellHealth(m.sink, worst)
}

// input is what one source's tracker delivers to.
type input struct {
	m       *merger
	i       int
	context string

	mu     sync.Mutex
	synced bool
}

func (in *input) syncedOnce() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.synced
}

func (in *input) OnEvent(e deployment.Event) {
	e.Context = in.context
	m := in.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.synced {
		m.early = append(m.early, e)
		return
	}
	m.sink.OnEvent(e)
}

func (in *input) OnSynced(snapshot []deployment.Summary) {
	in.mu.Lock()
	in.synced = true
	in.mu.Unlock()
	tagged := make([]deployment.Summary, len(snapshot))
	for j, s := range snapshot {
		s.Context = in.context
		tagged[j] = s
	}
	m := in.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &m.states[in.i]
	st.Synced, st.Err, st.Since = true, nil, m.now()
	st.Health = tracker.Health{State: tracker.Live, Since: st.Since}
	if !m.synced {
		for _, s := range tagged {
			m.snapshot[s.Key()] = s
		}
	}
	m.settleLocked(in.i)
	report := *st
	report.Snapshot = tagged
	m.tellLocked(report)
	m.healthLocked()
}

func (in *input) OnHealth(h tracker.Health) {
	m := in.m
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &m.states[in.i]
	st.Health = h
	m.tellLocked(*st)
	m.healthLocked()
}
