package host_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// timerPasses opens a host whose store counts the timer loop's passes
// (its Timeouts calls).
func timerPasses(t *testing.T) (*testHost, *atomic.Int64) {
	var passes atomic.Int64
	hs := &hookStore{onTimeouts: func(context.Context) error { passes.Add(1); return nil }}
	return openHookHost(t, t.TempDir(), hs), &passes
}

// createTimers creates n promises with a timeout at deadline, from 16
// goroutines, as a fan-out of sleeping children does.
func createTimers(t *testing.T, h *testHost, prefix string, n int, deadline time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < n; i += 16 {
				_, _, err := h.CreatePromise(context.Background(), store.Create{ID: fmt.Sprintf("%s-%d", prefix, i), Timeout: deadline.UnixMilli()})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// New timers due after the timer loop's next pass do not make it pass:
// each only tells it when it is due. One due before the pass moves the
// pass to its deadline, and fires then.
func TestTimersDueAfterTheNextPassCostTheTimerLoopNothing(t *testing.T) {
	h, passes := timerPasses(t)
	waitFor(t, "the timer loop's pass at start", func() bool { return passes.Load() >= 1 })
	before := passes.Load()
	createTimers(t, h, "far", 500, time.Now().Add(time.Hour))
	if n := passes.Load() - before; n != 0 {
		t.Fatalf("500 timers due in an hour made the timer loop pass %d times, want 0", n)
	}
	createTimers(t, h, "soon", 1, time.Now().Add(200*time.Millisecond))
	p := h.await("soon-0")
	if p.State != store.RejectedTimedout {
		t.Fatalf("soon-0 is %s, want timed out", p.State)
	}
	if p, err := h.Get(context.Background(), "far-0"); err != nil || p.State != store.Pending {
		t.Fatalf("far-0 is %v, %v; want pending", p.State, err)
	}
}

// A burst of timers due soon costs the timer loop one pass for the batch
// (a few, should the batch straddle a ms), not one per timer.
func TestABurstOfTimersFiresInAFewPasses(t *testing.T) {
	h, passes := timerPasses(t)
	waitFor(t, "the timer loop's pass at start", func() bool { return passes.Load() >= 1 })
	before := passes.Load()
	const n = 300
	deadline := time.Now().Add(time.Second)
	createTimers(t, h, "burst", n, deadline)
	for i := range n {
		if p := h.await(fmt.Sprintf("burst-%d", i)); p.State != store.RejectedTimedout {
			t.Fatalf("burst-%d is %s, want timed out", i, p.State)
		}
	}
	if got := passes.Load() - before; got > 3 {
		t.Fatalf("%d timers with one deadline took the timer loop %d passes, want at most 3", n, got)
	}
	if time.Now().Before(deadline) {
		t.Fatalf("timers fired before their deadline")
	}
}
