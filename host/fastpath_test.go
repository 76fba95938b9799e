package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// guestRandom resolves with 8 journaled random bytes: two runs of one
// execution that both wrote their result would be told apart.
func guestRandom() []byte {
	m := &wmod{}
	random := m.imp("random", tI32I32toI32[0], tI32I32toI32[1])
	resolve := m.imp("resolve", tI32I32toI32[0], tI32I32toI32[1])
	m.fn("run", nil, cat(i32const(reqOff), i32const(8), call(random), []byte{0x1a},
		i32const(reqOff), i32const(8), call(resolve), []byte{0x1a}))
	return m.bytes()
}

// guestSpin runs n loop iterations and returns: a guest that takes a while
// without any host call.
func guestSpin(n uint32) []byte {
	m := &wmod{}
	m.fn("run", []byte{vI32}, busy(0, n))
	return m.bytes()
}

// commitCounter hooks a store to count commits, and those that carry an
// execution's start.
func commitCounter(hs *hookStore) (commits, begins *atomic.Int64) {
	commits, begins = new(atomic.Int64), new(atomic.Int64)
	hs.onCommit = func(_ context.Context, c store.Commit) error {
		commits.Add(1)
		if c.Begin != nil {
			begins.Add(1)
		}
		return nil
	}
	return commits, begins
}

func TestInvokeWaitWritesStartAndResultInOneCommit(t *testing.T) {
	hs := &hookStore{}
	h := openHookHost(t, t.TempDir(), hs)
	h.deployRaw("echo", rawEcho())
	commits, begins := commitCounter(hs)
	ctx := context.Background()

	for i := range 10 {
		p, err := h.InvokeWait(ctx, "echo", []byte(fmt.Sprint(i)), host.InvokeOptions{}, 10*time.Second)
		if err != nil || p.State != store.Resolved || string(p.Value.Data) != fmt.Sprint(i) || p.ID == "" {
			t.Fatalf("InvokeWait = %+v, %v", p, err)
		}
		// The result the caller got is the durable one.
		if got, err := h.Get(ctx, p.ID); err != nil || got.State != store.Resolved || !bytes.Equal(got.Value.Data, p.Value.Data) {
			t.Fatalf("stored %+v, %v", got, err)
		}
		if e, err := h.Execution(ctx, p.ID); err != nil || e.Function != "echo" || e.Attempt != 1 {
			t.Fatalf("execution %+v, %v", e, err)
		}
	}
	if commits.Load() != 10 || begins.Load() != 10 || h.Stats().OneCommit != 10 {
		t.Fatalf("%d commits, %d with the start, %d one-commit invocations; want 10 of each", commits.Load(), begins.Load(), h.Stats().OneCommit)
	}
	st, err := h.store.Stats(ctx)
	if err != nil || st.Executions[store.Resolved] != 10 || st.Executions[store.Pending] != 0 {
		t.Fatalf("store counts %v, %v", st.Executions, err)
	}
	// Nothing is left to run: no task survives a one-commit invocation.
	if claimed, _, err := h.store.ClaimTasks(ctx, "someone", time.Now().UnixMilli(), time.Now().Add(time.Minute).UnixMilli(), 10); err != nil || len(claimed) != 0 {
		t.Fatalf("tasks left: %v, %v", claimed, err)
	}
}

func TestInvokeWaitWritesTheStartBeforeTheFirstDurableCall(t *testing.T) {
	hs := &hookStore{}
	h := openHookHost(t, t.TempDir(), hs)
	h.deployRaw("wait", guestPromiseAwait(0))
	ctx := context.Background()
	var startSeen atomic.Bool
	hs.onCommit = func(ctx context.Context, c store.Commit) error {
		if len(c.Creates) > 0 && c.Begin == nil && !startSeen.Load() {
			return errors.New("a promise of the guest was written before its execution's start")
		}
		if c.Begin != nil {
			startSeen.Store(true)
		}
		return nil
	}
	p, err := h.InvokeWait(ctx, "wait", nil, host.InvokeOptions{ID: "w1"}, 50*time.Millisecond)
	if err != nil || p.State != store.Pending || p.ID != "w1" {
		t.Fatalf("InvokeWait = %+v, %v; want it pending when the wait runs out", p, err)
	}
	// Durable and ordinary from here: the child promise exists, and
	// settling it finishes the execution.
	waitPromise(t, h, "w1.1")
	if _, err := h.Settle(ctx, store.Settle{ID: "w1.1", State: store.Resolved}); err != nil {
		t.Fatal(err)
	}
	if p := h.await("w1"); p.State != store.Resolved {
		t.Fatalf("w1: %s %s", p.State, p.Value.Data)
	}
	if h.Stats().OneCommit != 0 {
		t.Fatal("an execution with a durable call counted as one commit")
	}
}

func TestInvokeWaitWritesTheStartWhenTheWaitRunsOut(t *testing.T) {
	h := newHost(t)
	h.deployRaw("spin", guestSpin(30_000_000)) // far longer than the wait, on either engine
	ctx := context.Background()
	p, err := h.InvokeWait(ctx, "spin", nil, host.InvokeOptions{ID: "s1"}, 5*time.Millisecond)
	if err != nil || p.State != store.Pending || p.ID != "s1" {
		t.Fatalf("InvokeWait = %+v, %v", p, err)
	}
	// The caller holds an id: it must be durable already.
	if got, err := h.store.GetPromise(ctx, "s1"); err != nil || got.State != store.Pending {
		t.Fatalf("after the wait ran out the start is not durable: %+v, %v", got, err)
	}
	if p := h.await("s1"); p.State != store.Resolved {
		t.Fatalf("s1: %s %s", p.State, p.Value.Data)
	}
}

// TestInvokeWaitSameIDConcurrentlyRunsOnce invokes one id from many callers
// at once, through InvokeWait and Invoke: every caller sees the one result,
// and the execution's journal holds one run.
func TestInvokeWaitSameIDConcurrentlyRunsOnce(t *testing.T) {
	h := newHost(t)
	h.deployRaw("rand", guestRandom())
	ctx := context.Background()
	for round := range 20 {
		id := fmt.Sprint("same-", round)
		var wg sync.WaitGroup
		results := make([][]byte, 8)
		for i := range results {
			wg.Go(func() {
				var p store.Promise
				var err error
				if i%4 == 3 {
					var got string
					if got, err = h.Invoke(ctx, "rand", nil, host.InvokeOptions{ID: id}); err == nil && got == id {
						p = h.await(id)
					}
				} else {
					p, err = h.InvokeWait(ctx, "rand", nil, host.InvokeOptions{ID: id}, 10*time.Second)
				}
				if err != nil || p.State != store.Resolved || len(p.Value.Data) != 8 {
					t.Errorf("caller %d: %+v, %v", i, p, err)
					return
				}
				results[i] = p.Value.Data
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		stored := h.await(id)
		for i, r := range results {
			if !bytes.Equal(r, stored.Value.Data) {
				t.Fatalf("%s: caller %d got %x, the stored result is %x", id, i, r, stored.Value.Data)
			}
		}
		j, err := h.Journal(ctx, id, 0)
		if err != nil || len(j) != 1 || !bytes.Equal(j[0].Outcome, stored.Value.Data) {
			t.Fatalf("%s: journal %+v, %v; want the one random step of the result", id, j, err)
		}
	}
	st, err := h.store.Stats(ctx)
	if err != nil || st.Executions[store.Resolved] != 20 {
		t.Fatalf("store counts %v, %v; want 20 resolved", st.Executions, err)
	}
}

func TestInvokeWaitIdempotentRepeatAndConflict(t *testing.T) {
	h := newHost(t)
	h.deployRaw("rand", guestRandom())
	h.deployRaw("echo", rawEcho())
	ctx := context.Background()
	first, err := h.InvokeWait(ctx, "rand", nil, host.InvokeOptions{ID: "k1"}, 10*time.Second)
	if err != nil || first.State != store.Resolved {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := h.InvokeWait(ctx, "rand", []byte("other input"), host.InvokeOptions{ID: "k1"}, 10*time.Second)
	if err != nil || again.State != store.Resolved || !bytes.Equal(again.Value.Data, first.Value.Data) {
		t.Fatalf("repeat = %+v, %v; want the first result %x", again, err, first.Value.Data)
	}
	_, err = h.InvokeWait(ctx, "echo", nil, host.InvokeOptions{ID: "k1"}, 10*time.Second)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same id, another function: %v, want a conflict", err)
	}
	// A promise (not an execution) of that id: a conflict too, nothing run.
	if _, _, err := h.CreatePromise(ctx, store.Create{ID: "k2", Timeout: store.NoTimeout}); err != nil {
		t.Fatal(err)
	}
	_, err = h.InvokeWait(ctx, "echo", nil, host.InvokeOptions{ID: "k2"}, 10*time.Second)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("id of a promise: %v, want a conflict", err)
	}
	if _, err := h.Execution(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an execution was written for a taken id: %v", err)
	}
}

// TestInvokeWaitCrashBeforeTheCommitLeavesNothing stops the host while the
// one commit of an invocation cannot reach the store (as a crash would):
// the caller gets an error, and the reopened store has no trace of the id,
// nor anything to recover.
func TestInvokeWaitCrashBeforeTheCommitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	hs := &hookStore{}
	h := openHookHost(t, dir, hs)
	h.deployRaw("echo", rawEcho())
	reached := make(chan struct{}, 1)
	hs.onCommit = func(ctx context.Context, c store.Commit) error {
		if c.Begin != nil {
			reached <- struct{}{}
			<-ctx.Done() // the commit never lands
			return ctx.Err()
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		_, err := h.InvokeWait(context.Background(), "echo", []byte("x"), host.InvokeOptions{ID: "c1"}, 30*time.Second)
		errc <- err
	}()
	<-reached
	h.close()
	if err := <-errc; !errors.Is(err, host.ErrClosed) {
		t.Fatalf("InvokeWait across a shutdown: %v, want ErrClosed", err)
	}

	h = openHost(t, dir)
	ctx := context.Background()
	if _, err := h.Get(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the id of an unanswered invocation is in the store: %v", err)
	}
	// Invoking it again runs it.
	p, err := h.InvokeWait(ctx, "echo", []byte("y"), host.InvokeOptions{ID: "c1"}, 10*time.Second)
	if err != nil || p.State != store.Resolved || string(p.Value.Data) != "y" {
		t.Fatalf("again: %+v, %v", p, err)
	}
}

// TestInvokeWaitCallerGivesUp cancels the caller's context while the guest
// runs: nothing is written and the guest is stopped.
func TestInvokeWaitCallerGivesUp(t *testing.T) {
	h := newHost(t)
	h.deployRaw("spin", guestSpin(2_000_000_000))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.InvokeWait(ctx, "spin", nil, host.InvokeOptions{ID: "g1"}, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("InvokeWait = %v, want the context's error", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Active("g1") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if h.Active("g1") {
		t.Fatal("the guest of an invocation given up still runs")
	}
	if _, err := h.Get(context.Background(), "g1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an invocation given up left its id: %v", err)
	}
}

// TestInvokeWaitGuestThatFailsIsRetriedDurably checks that a trapping guest
// invoked through InvokeWait gets its start written for the retry, and
// rejects once the attempts are spent.
func TestInvokeWaitGuestThatFailsIsRetriedDurably(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}
	})
	h.deployRaw("trap", guestTrap())
	p, err := h.InvokeWait(context.Background(), "trap", nil, host.InvokeOptions{ID: "t1"}, 10*time.Second)
	if err != nil || p.State != store.Rejected {
		t.Fatalf("InvokeWait = %+v, %v", p, err)
	}
	e, err := h.Execution(context.Background(), "t1")
	if err != nil || e.Attempt != 2 {
		t.Fatalf("execution %+v, %v; want attempt 2", e, err)
	}
}
