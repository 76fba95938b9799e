package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// secondHost starts another host (another "node") on th's store.
func secondHost(t *testing.T, th *testHost) *host.Host {
	h, err := host.New(context.Background(), host.Config{Store: th.store, Logger: testLogger(t), CacheDir: cacheDir, NewEngine: testEngine()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	return h
}

// The design: nothing in the host may assume one process owns the store,
// and settlement wakes awaiters durably. A guest parked hot on host A keeps
// its task claimed and registers no callback; a settlement made through
// host B (another node on the same store) finds the task and makes none, and
// A's in-memory watcher is never told. The execution hangs (until evicted).
func TestSettleOnOtherNodeWakesHotParkedGuest(t *testing.T) {
	t.Skip("several hosts on one store are not supported yet: the embedded Badger store is one process's; this comes with a shared store backend")
	a := newHost(t)
	a.deployRaw("g", guestPromiseAwait(0))
	b := secondHost(t, a)
	ctx := context.Background()
	if _, err := a.Invoke(ctx, "g", nil, host.InvokeOptions{ID: "mn"}); err != nil {
		t.Fatal(err)
	}
	waitPromise(t, a, "mn.1")
	time.Sleep(100 * time.Millisecond)
	if _, err := b.Settle(ctx, store.Settle{ID: "mn.1", State: store.Resolved}); err != nil {
		t.Fatal(err)
	}
	p, ok := a.awaitFor("mn", 5*time.Second)
	if !ok {
		t.Fatalf("execution parked on node A still %s 5s after node B settled what it awaits (A parked: %d)", p.State, a.Parked())
	}
}

// Host.Await relies on in-memory notification only: a promise settled by
// another node is never seen (a promise without timeout waits forever).
func TestAwaitSeesSettlementByOtherNode(t *testing.T) {
	a := newHost(t)
	b := secondHost(t, a)
	ctx := context.Background()
	if _, _, err := a.CreatePromise(ctx, store.Create{ID: "ext", Timeout: store.NoTimeout}); err != nil {
		t.Fatal(err)
	}
	done := make(chan store.Promise, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		p, _ := b.Await(actx, "ext")
		done <- p
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := a.Settle(ctx, store.Settle{ID: "ext", State: store.Resolved}); err != nil {
		t.Fatal(err)
	}
	if p := <-done; p.State != store.Resolved {
		t.Fatalf("node B's Await of a promise node A settled returned %s after 5s", p.State)
	}
}

// h.funcs caches a function's latest version forever once seen, so a new
// version deployed through another node is never picked up ("seen on the
// next miss" never comes).
func TestInvokeSeesVersionDeployedByOtherNode(t *testing.T) {
	t.Skip("several hosts on one store are not supported yet: the embedded Badger store is one process's; this comes with a shared store backend")
	a := newHost(t)
	b := secondHost(t, a)
	ctx := context.Background()
	a.deployRaw("f", guestNoop())
	id1, err := b.Invoke(ctx, "f", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := a.Deploy(ctx, "f", guestTrap(), "")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := b.Invoke(ctx, "f", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e1, _ := b.Execution(ctx, id1)
	e2, _ := b.Execution(ctx, id2)
	if e2.Module != f2.Module {
		t.Fatalf("invoke after version %d was deployed on another node still runs module %.12s (v1 %.12s), want %.12s", f2.Version, e2.Module, e1.Module, f2.Module)
	}
}
