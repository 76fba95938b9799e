package host_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// A step's derived promise id is taken by a promise made with another
// idempotency key. flush fails with ErrConflict and the run is failed with a
// permanentError; finish then commits r.pending again (with the same
// conflicting create) plus the settlement, which fails the same way: the
// result is never written and the task stays claimed (heartbeated) forever.
func TestConflictingStepPromiseRejectsExecution(t *testing.T) {
	h := newHost(t)
	h.deployRaw("g", guestPromiseAwait(0))
	ctx := context.Background()
	if _, _, err := h.CreatePromise(ctx, store.Create{ID: "cx.1", Timeout: store.NoTimeout, IdempotencyKey: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(ctx, "g", nil, host.InvokeOptions{ID: "cx"}); err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor("cx", 5*time.Second)
	if !ok {
		t.Fatalf("execution whose step promise id conflicts is still %s after 5s (want REJECTED with a clear error)", p.State)
	}
	if p.State != store.Rejected {
		t.Fatalf("got %s %s", p.State, p.Value.Data)
	}
}

// A hot-parked guest awaits an external promise with a timeout. The timer
// loop is slow (a busy store); meanwhile someone settles the promise after
// its timeout. The store writes the timeout (deleting the timer) and reports
// Changed=false, so Host.Settle does not call h.settled: the parked guest is
// never told, and the timer that would have told it is gone.
func TestSettleAfterTimeoutWakesHotParkedGuest(t *testing.T) {
	gate := make(chan struct{})
	hs := &hookStore{onTimeouts: func(ctx context.Context) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	h := openHookHost(t, t.TempDir(), hs)
	h.deployRaw("g", guestPromiseAwait(int64(200*time.Millisecond)))
	ctx := context.Background()
	if _, err := h.Invoke(ctx, "g", nil, host.InvokeOptions{ID: "tw"}); err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, "tw.1")
	time.Sleep(400 * time.Millisecond) // past the promise's timeout; guest parked hot
	if h.Parked() != 1 {
		t.Fatalf("setup: parked %d", h.Parked())
	}
	res, err := h.Settle(ctx, store.Settle{ID: "tw.1", State: store.Resolved})
	t.Logf("late settle: state %s changed %v err %v", res.Promise.State, res.Changed, err)
	close(gate) // the timer loop catches up
	p, ok := h.awaitFor("tw", 5*time.Second)
	if !ok {
		t.Fatalf("execution still %s 5s after its awaited promise settled (timed out); parked %d", p.State, h.Parked())
	}
}

// Time a guest spends waiting on the store (a slow commit) is the host's,
// not the guest's: it must not count against the step time limit, and above
// all must not start attempts past the retry policy (a host error is
// recovered by replay of the same attempt, never retried as a new one).
func TestStepTimeoutInStoreCallRespectsMaxAttempts(t *testing.T) {
	hs := &hookStore{onCommit: func(ctx context.Context, c store.Commit) error {
		if c.Settle == nil {
			return sleepCtx(ctx, 60*time.Millisecond)
		}
		return nil
	}}
	h := openHookHost(t, t.TempDir(), hs, func(c *host.Config) {
		c.StepTimeout = 200 * time.Millisecond
		c.Retry = host.RetryPolicy{MaxAttempts: 1, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	})
	h.deployRaw("g", guestSleepZeroForever())
	if _, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: "st"}); err != nil {
		t.Fatal(err)
	}
	p, _ := h.awaitFor("st", 1500*time.Millisecond) // well past the 200ms step limit
	e, _ := h.Execution(context.Background(), "st")
	if p.State != store.Pending || e.Attempt != 1 || e.LastError != "" {
		t.Fatalf("slow store commits: promise %s, attempt %d, last error %q; want still pending in attempt 1", p.State, e.Attempt, e.LastError)
	}
}

// Hot and cold must agree, and replaying a journal is not the guest's time.
// Each of the k segments of the guest calls now, then awaits a promise that
// the test settles. Cold, the test settles each promise only once the
// execution has suspended, so every resume replays all earlier segments
// first, and the last run replays all k and makes no call of its own. In
// that run each replayed now takes `slow` (withSlowNow), inside a host call
// that does not block: the guest's own time for the step limit, as a busy
// loop would be. Every replayed await must end a step, so that run's steps
// are `slow` each, well under the limit; if replay counted as one step it
// would take k*slow, over the limit, and the execution would be failed.
//
// Nothing here depends on how fast the machine is: the slow segments are
// sleeps, which a busy machine can only lengthen, so replay counted as one
// step exceeds the limit on any machine, while a step of the replay fails
// only if the host adds limit-slow of its own to it. The other runs spend
// next to nothing of the guest's time, so a slow store (an fsync waiting on
// a busy disk) has the whole limit. A busy loop, which the test used before,
// runs several times longer on a loaded machine and took a step past the
// limit hot and cold alike, at random.
//
// The count of now calls shows the cold run replayed every segment on every
// resume and the slow ones were the last run's, and the control that time in
// now counts against the limit: without either the test could pass
// vacuously.
func TestColdReplayDoesNotExceedStepBudget(t *testing.T) {
	const (
		limit = 3 * time.Second
		slow  = limit / 2
		k     = 3
		runs  = k + 1        // cold: one run per segment, and the last
		nows  = k*runs/2 + k // cold: run r calls now min(r, k) times
	)
	if k*slow < limit+limit/5 {
		t.Fatalf("replaying %d segments of %v must exceed the step limit %v clearly", k, slow, limit)
	}
	cfg := func(c *host.Config) {
		c.StepTimeout = limit
		c.Retry = host.RetryPolicy{MaxAttempts: 1}
	}
	results, calls := map[string]string{}, map[string]int64{}
	for _, mode := range []string{"hot", "cold", "control"} {
		var n atomic.Int64
		conf, segments := []func(*host.Config){cfg, withSlowNow(&n, func(int64) time.Duration { return 0 })}, k
		switch mode {
		case "cold": // slow in the last run only: the calls past the first runs' k*(k+1)/2
			conf = []func(*host.Config){cfg, noParking, withSlowNow(&n, func(call int64) time.Duration {
				if call > nows-k {
					return slow
				}
				return 0
			})}
		case "control": // one segment whose now, not replayed, runs past the limit
			conf, segments = []func(*host.Config){cfg, withSlowNow(&n, func(int64) time.Duration { return limit + limit/4 })}, 1
		}
		h := newHost(t, conf...)
		h.deployRaw("g", guestSegments(uint32(segments)))
		start := time.Now()
		id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: "seg"})
		if err != nil {
			t.Fatal(err)
		}
		if mode != "control" {
			settleSegments(t, h, id, segments, mode == "cold")
		}
		p, ok := h.awaitFor(id, 60*time.Second)
		if !ok {
			t.Fatalf("%s: not settled", mode)
		}
		t.Logf("%s: %s %s after %d calls of now in %v", mode, p.State, p.Value.Data, n.Load(), time.Since(start))
		results[mode], calls[mode] = p.State.String()+" "+string(p.Value.Data), n.Load()
		h.close()
	}
	if results["hot"] != "RESOLVED " {
		t.Fatalf("hot: %s, want RESOLVED: no step is near the limit", results["hot"])
	}
	if results["hot"] != results["cold"] {
		t.Fatalf("hot and cold differ:\nhot:  %s\ncold: %s", results["hot"], results["cold"])
	}
	if calls["cold"] != nows {
		t.Fatalf("cold: %d calls of now, want %d (every resume replaying every segment)", calls["cold"], nows)
	}
	if !strings.HasPrefix(results["control"], "REJECTED ") || !strings.Contains(results["control"], "step time limit") {
		t.Fatalf("control: a guest %v in now() was not stopped by the step limit %v: %s", limit+limit/4, limit, results["control"])
	}
}

// settleSegments settles the promise of each of the segments of execution
// id in turn, as soon as it exists or, when suspended is set, once the
// execution has suspended awaiting it. It stops early when the execution
// ends.
func settleSegments(t *testing.T, h *testHost, id string, segments int, suspended bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for i := 1; i <= segments; i++ {
		pid := fmt.Sprintf("%s.%d", id, 2*i)
		for {
			_, err := h.Get(ctx, pid)
			if err == nil && !(suspended && h.Active(id)) {
				break
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if p, err := h.Get(ctx, id); err == nil && p.State.Settled() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("segment %d of %s: promise %s not made, or the execution not suspended, after 60s", i, id, pid)
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := h.Settle(ctx, store.Settle{ID: pid, State: store.Resolved}); err != nil {
			t.Fatal(err)
		}
	}
}

// withSlowNow makes call n (from 1) of the guest's now import take delay(n)
// longer, counting the calls in n. The time is spent inside a host call that
// does not block, which is the guest's own time for the step limit, as a busy
// loop would be, but it does not depend on how much CPU the machine has to
// spare.
func withSlowNow(n *atomic.Int64, delay func(call int64) time.Duration) func(*host.Config) {
	return func(c *host.Config) {
		inner := c.NewEngine
		if inner == nil {
			inner = func(ctx context.Context, cfg engine.Config) (engine.Engine, error) { return wazeroengine.New(ctx, cfg) }
		}
		c.NewEngine = func(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
			cfg.Imports = slices.Clone(cfg.Imports)
			for i, im := range cfg.Imports {
				if im.Module == abi.Module && im.Name == abi.ImportNow {
					cfg.Imports[i].Func = func(ctx context.Context, mem engine.Memory, stack []uint64) {
						time.Sleep(delay(n.Add(1)))
						im.Func(ctx, mem, stack)
					}
				}
			}
			return inner(ctx, cfg)
		}
	}
}

// An execution canceled before its guest started (while prepare instantiates
// it) is not stopped: settled() finds a.run == nil, the fresh path does not
// re-check the promise, and Commit accepts writes for an execution whose
// promise is settled and whose task is gone. The canceled guest then runs and
// starts its children.
func TestCancelBeforeGuestStartsRunsNothing(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.ReadyInstances = -1 })
	h.deployRaw("child", guestNoop())
	h.deployRaw("parent", guestSlowInitInvoker(20_000_000, "child", "1"))
	ctx := context.Background()
	id, err := h.Invoke(ctx, "parent", nil, host.InvokeOptions{ID: "cp"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := h.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	t.Logf("cancel took %v", time.Since(start))
	time.Sleep(50 * time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for h.Active(id) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	c, err := h.Get(ctx, id+".1")
	if err == nil {
		t.Fatalf("the canceled execution ran after its cancel and started child %s (%s)", c.ID, c.State)
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}

// A single transient store error in prepare (non-fresh path) leaves the
// execution's task claimed by this host, extended by every heartbeat, and
// never run again: the execution hangs until the process restarts.
func TestTransientPrepareErrorDoesNotStrandExecution(t *testing.T) {
	var once sync.Once
	hs := &hookStore{onGetExecution: func(ctx context.Context, id string) error {
		var err error
		if id == "pe" {
			once.Do(func() { err = errors.New("injected transient store error") })
		}
		return err
	}}
	h := openHookHost(t, t.TempDir(), hs, func(c *host.Config) {
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
	})
	h.deployRaw("g", guestTrap())
	if _, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: "pe"}); err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor("pe", 6*time.Second)
	if !ok {
		e, _ := h.Execution(context.Background(), "pe")
		t.Fatalf("after one transient error the execution is still %s (attempt %d, active %v)", p.State, e.Attempt, h.Active("pe"))
	}
}

// Starts a trapping attempt has not flushed are dropped by retry() (only its
// entries are kept), but on the last attempt finish() commits r.pending whole
// with the rejection: children of a failed attempt are started, orphaned, only
// when it is the last one.
func TestFailedLastAttemptStartsNoChildren(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.Retry = host.RetryPolicy{MaxAttempts: 1} })
	h.deployRaw("child", guestNoop())
	m := &wmod{}
	inv := m.imp("invoke", tI32x4toI32[0], tI32x4toI32[1])
	m.fn("run", nil, cat(i32const(reqOff), i32const(5), i32const(reqOff+512), i32const(1), call(inv), []byte{0x1a, 0x00}))
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte("child")}, wdata{Offset: reqOff + 512, Bytes: []byte("1")})
	h.deployRaw("p", m.bytes())
	ctx := context.Background()
	if _, err := h.Invoke(ctx, "p", nil, host.InvokeOptions{ID: "fl"}); err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor("fl", 5*time.Second)
	if !ok || p.State != store.Rejected {
		t.Fatalf("%s %s", p.State, p.Value.Data)
	}
	if c, err := h.Get(ctx, "fl.1"); err == nil {
		t.Fatalf("the trapped (rejected) execution's unflushed child %s was started: %s", c.ID, c.State)
	}
}
