package host_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// TestFinishedWorkHoldsNothing runs a burst of executions that sleep, with
// room to park only one, so that most are evicted and resume cold, and
// checks that once they have all ended the host holds nothing of theirs:
// no one waits on their promises, and every run's context is released
// from the host's (a context left uncanceled stays a child of the host's,
// with what the engine attached to it, for as long as the host runs:
// a host that ran a million executions held a million of them).
func TestFinishedWorkHoldsNothing(t *testing.T) {
	var mu sync.Mutex
	var ctxs []context.Context // of every run, as its guest saw it
	capture := engine.Import{Module: "reprise_test", Name: "capture", Func: func(ctx context.Context, _ engine.Memory, _ []uint64) {
		mu.Lock()
		ctxs = append(ctxs, ctx)
		mu.Unlock()
	}}
	h := newHost(t, func(c *host.Config) {
		c.MaxParked = 1
		host.SetTestImports(c, []engine.Import{capture})
	})
	m := &wmod{}
	slp := m.imp("sleep", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	capt := byte(m.m.Import("reprise_test", "capture", nil, nil))
	m.fn("run", nil, cat(call(capt), i64const(int64(100*time.Millisecond)), call(slp), call(await), []byte{0x1a}))
	ctx := context.Background()
	if _, err := h.Deploy(ctx, "nap", m.bytes(), ""); err != nil {
		t.Fatal(err)
	}
	const n = 64
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("nap-%d", i)
		if _, err := h.Invoke(ctx, "nap", nil, host.InvokeOptions{ID: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if p := h.await(id); p.State != store.Resolved {
			t.Fatalf("%s ended %s: %s", id, p.State, p.Value.Data)
		}
	}
	if p, err := h.InvokeWait(ctx, "nap", nil, host.InvokeOptions{}, time.Minute); err != nil || p.State != store.Resolved {
		t.Fatalf("InvokeWait: %s %v", p.State, err)
	}
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.Active != 0 {
		t.Fatalf("idle host drives %d executions", st.Active)
	}
	if w := host.Watching(h.Host); w != 0 {
		t.Errorf("after every execution ended, the host still watches %d promises", w)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ctxs) < n+n/2 {
		t.Fatalf("%d runs for %d executions: too few resumed cold, so the eviction path was not taken", len(ctxs), n+1)
	}
	live := 0
	for _, c := range ctxs {
		if c.Err() == nil {
			live++
		}
	}
	if live != 0 {
		t.Errorf("%d of %d runs' contexts are still live after their runs ended", live, len(ctxs))
	}
}
