package host_test

// The work limits (pending executions, children per execution, invoke
// depth) and what waits for a running slot: a recursive fan-out bomb ends
// with the named limit in the guest, and tasks that wait hold no goroutine.

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// rejectedNaming fails unless p is rejected with a value naming limit.
func rejectedNaming(t *testing.T, p store.Promise, limit string) {
	t.Helper()
	if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "limit "+limit+":") {
		t.Fatalf("execution %s is %s with %s, want REJECTED naming the %s limit", p.ID, p.State, p.Value.Data, limit)
	}
}

// A guest that invokes itself 20 times, each child the same: with at most
// 60 pending executions, the bomb's invokes past the limit get rejected
// promises naming it, the rejections come back up the tree, and the root
// ends rejected with that error, while the host stays at its limit.
func TestFanOutBombEndsWithThePendingLimit(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxPending = 60; c.Workers = 4 })
	h.deployRaw("bomb", wt.Invoker("bomb", 20))
	p := h.run("bomb", []byte(`{}`), host.InvokeOptions{})
	rejectedNaming(t, p, host.LimitPending)
	// Its other children go on (an execution that ends does not end its
	// children), but every one of them meets the limit too: they all end,
	// having made a bounded number of executions.
	var st store.Stats
	waitFor(t, "every execution of the bomb to end", func() bool {
		var err error
		st, err = h.StoreStats(context.Background())
		return err == nil && st.Executions[store.Pending] == 0
	})
	total := st.Executions[store.Resolved] + st.Executions[store.Rejected]
	t.Logf("the bomb made %d executions", total)
	if _, err := h.Invoke(context.Background(), "bomb", []byte(`{}`), host.InvokeOptions{}); err != nil {
		t.Fatalf("invoke once the bomb is over: %v", err)
	}
}

// An invocation from outside past the pending limit is a LimitError naming
// it; nothing is written.
func TestInvokePastThePendingLimitIsRefused(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxPending = 3 })
	h.deployRaw("wait", guestPromiseAwait(0))
	for range 3 {
		if _, err := h.Invoke(context.Background(), "wait", nil, host.InvokeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.Invoke(context.Background(), "wait", nil, host.InvokeOptions{ID: "fourth"})
	var le *host.LimitError
	if !errors.As(err, &le) || le.Limit != host.LimitPending || !errors.Is(err, host.ErrLimit) {
		t.Fatalf("fourth invoke: %v, want a LimitError of %s", err, host.LimitPending)
	}
	if _, err := h.Get(context.Background(), "fourth"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused execution was written: %v", err)
	}
}

// A chain of invocations (each invokes one of itself) stops at the depth
// limit.
func TestInvokeDepthLimit(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxDepth = 3 })
	h.deployRaw("chain", wt.Invoker("chain", 1))
	p := h.run("chain", []byte(`{}`), host.InvokeOptions{ID: "c"})
	rejectedNaming(t, p, host.LimitDepth)
	// Depths 0 to 3 ran; the invoke at depth 3 was refused.
	if _, err := h.Get(context.Background(), "c.1.1.1"); err != nil {
		t.Fatalf("the child at depth 3: %v", err)
	}
	if _, err := h.Get(context.Background(), "c.1.1.1.1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a child past the depth limit was started: %v", err)
	}
}

// An execution invoking more children than the limit gets its first ones;
// the rest are rejected naming the limit, and the decision is the journal's:
// a replay under a higher limit answers the same.
func TestChildrenLimitIsJournaled(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, func(c *host.Config) { c.MaxChildren = 2 })
	h.deployRaw("wait", guestPromiseAwait(0))
	h.deployRaw("three", wt.Invoker("wait", 3))
	id, err := h.Invoke(context.Background(), "three", []byte(`{}`), host.InvokeOptions{ID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// It awaits its first child, which awaits a promise of its own.
	waitFor(t, "the first child to wait", func() bool {
		p, err := h.Get(context.Background(), "p.1.1")
		return err == nil && p.State == store.Pending
	})
	waitFor(t, "the parent's journal", func() bool {
		j, err := h.Journal(context.Background(), id, 0)
		return err == nil && len(j) == 3
	})
	j, _ := h.Journal(context.Background(), id, 0)
	if j[2].Child != "" || !strings.Contains(string(j[2].Outcome), "limit children:") {
		t.Fatalf("the refused invoke is journaled as %+v", j[2])
	}
	if _, err := h.Get(context.Background(), "p.3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused child was started: %v", err)
	}
	h.close()

	h = openHost(t, dir, func(c *host.Config) { c.MaxChildren = 100 })
	for _, c := range []string{"p.1.1", "p.2.1"} {
		if _, err := h.Settle(context.Background(), store.Settle{ID: c, State: store.Resolved}); err != nil {
			t.Fatal(err)
		}
	}
	rejectedNaming(t, h.await(id), host.LimitChildren)
}

// Tasks that wait for a running slot hold no goroutine: a burst of
// invocations while every slot is taken, more than the host queues in
// memory (1,024; the rest wait in the store), adds no goroutine per task,
// and once the slots free up every one of them runs.
func TestQueuedTasksHoldNoGoroutines(t *testing.T) {
	const burst = 1500
	h := newHost(t, func(c *host.Config) { c.Workers = 2; c.StepTimeout = 5 * time.Minute })
	h.deployRaw("spin", spinForever())
	h.deployRaw("noop", guestNoop())
	var hogs []string
	for range 2 {
		id, err := h.Invoke(context.Background(), "spin", nil, host.InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		hogs = append(hogs, id)
	}
	waitFor(t, "both slots to be taken", func() bool { return h.Stats().Running == 2 })
	before := runtime.NumGoroutine()
	ids := make([]string, burst)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < burst; i += 8 {
				id, err := h.Invoke(context.Background(), "noop", nil, host.InvokeOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	after := runtime.NumGoroutine()
	t.Logf("goroutines: %d with the slots taken, %d after %d more invocations", before, after, burst)
	if after-before > 20 {
		t.Fatalf("%d invocations waiting for a slot added %d goroutines", burst, after-before)
	}
	if a := h.Stats().Active; a > 2 {
		t.Fatalf("%d executions are driven here with 2 slots and nothing parked", a)
	}
	for _, id := range hogs {
		if _, err := h.Cancel(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		resolved(t, h.await(id), nil)
	}
}

// spinForever is a guest that loops without a host call.
func spinForever() []byte {
	m := &wmod{}
	m.fn("run", nil, wt.Forever)
	return m.bytes()
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
