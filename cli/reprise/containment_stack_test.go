package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/client"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// Finding 12 of the containment issue: a guest recursing without end made
// its engine grow the call stack, outside the memory limit, to 100–400 MB
// per execution before the stack overflowed. Now the host counts the calls
// that can recurse against its call stack limit (8 MiB): each execution
// traps with a stack overflow naming the limit, having held little, while
// the quiet tenant is served.
func TestDeepRecursionIsBoundedByTheCallStackLimit(t *testing.T) {
	t.Parallel()
	a := startArena(t, nil)
	m := wt.Module{Memory: 1}
	// run(): a frame of eight i64 locals, then run() again, for ever.
	m.Func("run", []byte{wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64}, wt.Call(0))
	c := a.client(t)
	ctx := context.Background()
	if _, err := c.Deploy(ctx, "recurse", m.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	load := a.quiet.keepInvoking(t)
	// Twice the tenant's concurrency at once, three attempts each.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			inv, err := c.Invoke(ctx, "recurse", nil, client.InvokeOptions{Wait: time.Minute})
			switch {
			case err != nil:
				t.Errorf("invoke: %v", err)
			case inv.State != "REJECTED" || !strings.Contains(string(inv.Value), "call stack limit"):
				t.Errorf("got %s %s, want REJECTED with a stack overflow naming the call stack limit", inv.State, inv.Value)
			}
		})
	}
	wg.Wait()
	load.requireServed(t)
	// Before, four executions at once held 0.7–1.6 GiB.
	a.requirePeakUnder(t, 450<<20, "recursion in 8 executions, 4 at a time")
}
