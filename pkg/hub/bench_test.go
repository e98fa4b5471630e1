package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func benchEvent(replicas int32) deployment.Event {
	e := ev(deployment.Modified, "web", replicas)
	e.Containers = []deployment.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}}
	e.ResourceVersion = "123456"
	return e
}

// BenchmarkEncodeEvent is the JSON of one SSE event, encoded once per event
// and shared by every subscriber.
func BenchmarkEncodeEvent(b *testing.B) {
	e := benchEvent(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOnEvent is one event reaching N subscribers, and each of them
// taking it as its message: the hub's whole cost of an event.
func BenchmarkOnEvent(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h, src, subs := benchSubscribers(b, n)
			defer h.Close()
			events := []deployment.Event{benchEvent(2), benchEvent(3)}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				src.emit(events[i%2])
				i++
				for _, s := range subs {
					if _, err := s.Next(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}

// BenchmarkWaiters is the real shape of serve: N subscribers, each in its
// own goroutine blocked in Wait, and one event that must reach them all.
// An iteration ends when every subscriber has taken the event.
func BenchmarkWaiters(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			heapBefore := heapInUse()
			h, src, subs := benchSubscribers(b, n)
			defer h.Close()
			// What a subscription keeps, goroutines and their stacks aside.
			perSub := float64(heapInUse()-heapBefore) / float64(n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got sync.WaitGroup
			var ended sync.WaitGroup
			for _, s := range subs {
				ended.Add(1)
				go func() {
					defer ended.Done()
					defer s.Close()
					for {
						msgs, err := s.Wait(ctx, nil)
						if err != nil {
							return
						}
						for range msgs {
							got.Done()
						}
					}
				}()
			}
			events := []deployment.Event{benchEvent(2), benchEvent(3)}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				got.Add(n)
				src.emit(events[i%2])
				i++
				got.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
			b.ReportMetric(perSub, "heap-B/subscriber")
			cancel()
			ended.Wait()
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// benchSubscribers is a hub with n subscribers of one namespace, each past
// its snapshot, and the source that feeds them.
func benchSubscribers(b *testing.B, n int) (*Hub, *script, []*Subscription) {
	ss := &scripts{}
	h := New(nil, Options{NewSource: ss.newSource})
	subs := make([]*Subscription, n)
	for i := range subs {
		s, err := h.Subscribe(context.Background(), "shop", "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Next(context.Background()); err != nil { // the snapshot
			b.Fatal(err)
		}
		subs[i] = s
	}
	return h, ss.last(), subs
}
