package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/reprise-wasm/reprise/abi"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// The memory budget (memory.go): what the host holds for its tenant stays
// within Config.Budget, and at it work waits or goes cold, never lost.

const budgetMemLimit = 16 << 20 // 256 pages per instance

// budgetHost is a host whose instances are capped at 16 MiB, with a memory
// budget of limit bytes.
func budgetHost(t *testing.T, limit int64) (*testHost, *budget.Budget) {
	b := budget.New("memory_budget", limit, budget.Bytes, nil)
	h := newHost(t, func(c *host.Config) {
		c.MemoryLimit = budgetMemLimit
		c.Budget = b
	})
	return h, b
}

// growAwait grows its memory to the 16 MiB cap, then awaits a promise of
// its own: parked, it holds 16 MiB.
func growAwait() []byte {
	m := &wmod{}
	p := m.imp("promise", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	m.fn("run", nil, cat(i32const(255), wt.MemoryGrow, wt.Drop, i64const(0), call(p), call(await), wt.Drop))
	return m.bytes()
}

// A budget that fits two runs: five executions that each park with 16 MiB
// must evict the parked ones to the cold path to start, and every one of
// them finishes when its promise is settled.
func TestParkedInstancesGoColdToMakeRoomForRuns(t *testing.T) {
	// One run reserves its cap (16 MiB), 4 MiB of instance allowance, the
	// 1 MiB flush bound and two 1 MiB payloads: 23 MiB.
	const limit = 50 << 20
	h, b := budgetHost(t, limit)
	h.deployRaw("grow", growAwait())
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		id, err := h.Invoke(ctx, "grow", nil, host.InvokeOptions{ID: fmt.Sprintf("g%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		// Each awaits before the next starts, so the earlier ones are
		// parked (or cold) when it needs room.
		waitPromise(t, h, id+".1")
	}
	if s := b.Stats(); s.Peak > limit {
		t.Fatalf("the host held %d MiB of a %d MiB budget", s.Peak>>20, limit>>20)
	}
	if n := h.Parked(); n > 2 {
		t.Errorf("%d instances of 16 MiB parked in a 50 MiB budget; want the others cold", n)
	}
	for _, id := range ids {
		if _, err := h.Settle(ctx, store.Settle{ID: id + ".1", State: store.Resolved}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if p := h.await(id); p.State != store.Resolved {
			t.Errorf("%s: %s %s, want resolved (hot or by replay)", id, p.State, p.Value.Data)
		}
	}
	s := b.Stats()
	t.Logf("budget: peak %d MiB of %d MiB; parked now %d", s.Peak>>20, limit>>20, h.Parked())
	if s.Peak > limit {
		t.Errorf("the host held %d MiB of a %d MiB budget", s.Peak>>20, limit>>20)
	}
}

// fill16 fills its 16 MiB memory in _initialize; salt makes each module
// different.
func fill16(salt uint32) []byte {
	m := &wmod{pages: 256}
	m.fn("_initialize", nil, cat(i32const(0), i32const(salt), i32const(16<<20), []byte{0xfc, 0x0b, 0x00}))
	m.fn("run", nil, nil)
	return m.bytes()
}

// Ready instances are spare: deploys of modules whose instances fill their
// memory empty the pools to fit, they do not pile up outside the budget,
// and the functions still run.
func TestReadyPoolsStayWithinTheBudget(t *testing.T) {
	const limit = 60 << 20
	h, b := budgetHost(t, limit)
	for i := range 8 {
		h.deployRaw(fmt.Sprintf("fill%d", i), fill16(uint32(i+1)))
		if held := b.Held(); held > limit {
			t.Fatalf("after deploy %d the host holds %d MiB of a %d MiB budget", i, held>>20, limit>>20)
		}
	}
	for i := range 8 {
		if p := h.run(fmt.Sprintf("fill%d", i), nil, host.InvokeOptions{}); p.State != store.Resolved {
			t.Errorf("fill%d: %s %s", i, p.State, p.Value.Data)
		}
	}
	if s := b.Stats(); s.Peak > limit {
		t.Errorf("peak %d MiB of a %d MiB budget", s.Peak>>20, limit>>20)
	}
	// Without a budget the same deploys keep eight full instances: the
	// test above is about the budget, not about small instances.
	free, fb := budgetHost(t, 1<<40)
	for i := range 8 {
		free.deployRaw(fmt.Sprintf("fill%d", i), fill16(uint32(i+1)))
	}
	if held := fb.Held(); held < 8*16<<20 {
		t.Errorf("without a budget the pools hold %d MiB; want 8 full instances (128 MiB)", held>>20)
	}
}

// A module whose compile estimate exceeds the whole budget is refused at
// deploy, naming the limit, before the engine sees it.
func TestDeployWhoseCompileCannotFitIsRefused(t *testing.T) {
	h, b := budgetHost(t, 40<<20)
	var m wt.Module
	m.Memory = 1
	body := make([]byte, 0, 200<<10)
	for len(body) < 200<<10 {
		body = append(body, wt.Cat(wt.I32Const(0), wt.I32Const(1), wt.I32Store)...)
	}
	m.Func("run", nil, body)
	_, err := h.Deploy(context.Background(), "big", m.Bytes(), "")
	var ee *budget.ExceededError
	if !errors.As(err, &ee) || !ee.Never || ee.Limit != "memory_budget" || !strings.Contains(err.Error(), "compiling") {
		t.Fatalf("deploy: %v, want a memory_budget ExceededError for the compile", err)
	}
	if fs, _ := h.Functions(context.Background()); len(fs) != 0 {
		t.Errorf("a refused deploy left functions %v", fs)
	}
	if held := b.Held(); held != 0 {
		t.Errorf("a refused deploy left %d bytes held", held)
	}
	stillServes(t, h)
}

func TestDeployRefusesAFunctionBodyOverTheLimit(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxFunctionBody = 1 << 10 })
	body := make([]byte, 0, 2<<10)
	for len(body) < 2<<10 {
		body = append(body, wt.Cat(wt.I32Const(0), wt.Drop)...)
	}
	var m wt.Module
	m.Memory = 1
	m.Func("run", nil, body)
	deployRefused(t, h, m.Bytes(), "function_body_size", "1024 bytes")
}

// dataModule is a module of about size bytes (one data segment) whose run
// resolves with salt: its compiled code counts about ten times its size
// while cached.
func dataModule(size int, salt byte) []byte {
	m := wt.Module{Memory: size>>16 + 1, Data: []wt.Data{{Offset: 0, Bytes: bytes.Repeat([]byte{salt}, size)}}}
	resolve := m.Import(abi.Module, abi.ImportResolve, []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func(abi.DefaultEntry, nil, wt.I32Const(0), wt.I32Const(1), wt.Call(resolve), wt.Drop)
	return m.Bytes()
}

// Compiled code that nothing uses gives its memory back under pressure: a
// budget the code of two cached modules nearly fills still deploys and runs
// a third (and then the first again, compiled anew), instead of refusing or
// waiting for memory that nothing would give back.
func TestIdleModulesAreEvictedToMakeRoom(t *testing.T) {
	h, b := budgetHost(t, 160<<20)
	for i, name := range []string{"d1", "d2", "d3"} {
		if _, err := h.Deploy(context.Background(), name, dataModule(4<<20, byte('a'+i)), ""); err != nil {
			t.Fatalf("deploy %s with %d bytes held: %v", name, b.Held(), err)
		}
		if p := h.run(name, nil, host.InvokeOptions{}); p.State != store.Resolved || len(p.Value.Data) != 1 || p.Value.Data[0] != byte('a'+i) {
			t.Fatalf("run %s: %s %q", name, p.State, p.Value.Data)
		}
	}
	if p := h.run("d1", nil, host.InvokeOptions{}); p.State != store.Resolved || string(p.Value.Data) != "a" {
		t.Fatalf("run d1 again: %s %q", p.State, p.Value.Data)
	}
	stillServes(t, h)
}
