package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// paddedPromiseAwait is guestPromiseAwait(0) with a large body, so that
// compiling it (without the on-disk cache) takes a while.
func paddedPromiseAwait(pad int) []byte {
	m := &wmod{}
	p := m.imp("promise", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	var code []byte
	for i := 0; i < pad; i++ {
		code = append(code, 0x41, byte(i&0x3f), 0x1a) // i32.const; drop
	}
	m.fn("run", nil, cat(code, i64const(0), call(p), call(await), []byte{0x1a}))
	return m.bytes()
}

// compiled() compiles a module once for all callers, validating the FIRST
// caller's entry. If that first caller is a Deploy of the same bytes with a
// wrong entry, every concurrent caller waiting on the slot gets that error;
// prepare() treats any loadModule error as final and rejects the execution:
// a recovering execution of a good function is rejected because of someone
// else's bad deploy.
func TestBadDeployDoesNotRejectRecoveringExecution(t *testing.T) {
	wasm := paddedPromiseAwait(600_000)
	dir := t.TempDir()
	// The big function is what makes the compile slow enough to race.
	bigBodies := func(c *host.Config) { c.MaxFunctionBody = len(wasm) }
	h := openHookHost(t, dir, &hookStore{}, bigBodies)
	start := time.Now()
	h.deployRaw("f", wasm)
	t.Logf("compile+deploy took %v", time.Since(start))
	ctx := context.Background()
	if _, err := h.Invoke(ctx, "f", nil, host.InvokeOptions{ID: "ce"}); err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, "ce.1")
	h.close()

	// Restart: recovery of "ce" reaches loadModule a little after the deploy
	// below started compiling the same bytes.
	hs := &hookStore{onGetExecution: func(ctx context.Context, id string) error {
		if id == "ce" {
			return sleepCtx(ctx, 10*time.Millisecond)
		}
		return nil
	}}
	h = openHookHost(t, dir, hs, bigBodies)
	start = time.Now()
	_, err := h.Deploy(ctx, "other", wasm, "nope")
	t.Logf("bad deploy: %v after %v", err, time.Since(start))
	if err == nil {
		t.Fatal("deploy with a missing entry succeeded")
	}
	if _, err := h.Settle(ctx, store.Settle{ID: "ce.1", State: store.Resolved}); err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor("ce", 10*time.Second)
	if !ok || p.State != store.Resolved {
		t.Fatalf("recovered execution of a good function: %s %s", p.State, p.Value.Data)
	}
}

// Close holds modMu while it waits for every module slot to be ready; a
// Deploy whose compile fails (not tracked by h.wg) must take modMu to drop
// its slot before it closes slot.ready: Close deadlocks, ignoring its ctx.
func TestCloseDuringFailingDeployReturns(t *testing.T) {
	db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := host.New(context.Background(), host.Config{Store: db, Logger: testLogger(t), NewEngine: testEngine(), MaxFunctionBody: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go h.Deploy(context.Background(), "bad", paddedPromiseAwait(600_000), "nope")
	time.Sleep(30 * time.Millisecond) // the deploy is compiling
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done <- h.Close(ctx)
	}()
	select {
	case err := <-done:
		t.Logf("Close returned %v", err)
	case <-time.After(8 * time.Second):
		t.Fatal("Close(ctx with a 3s deadline) has not returned after 8s: deadlock between Close (holding modMu, waiting on slot.ready) and the failing compile (waiting on modMu)")
	}
}

func TestEndlessInitializeIsStoppedAtDeploy(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.StepTimeout = 300 * time.Millisecond })
	m := wt.Module{Memory: 1}
	m.Func("_initialize", nil, wt.Forever)
	m.Func("run", nil)
	done := make(chan error, 1)
	go func() {
		_, err := h.Deploy(context.Background(), "spin", m.Bytes(), "")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, host.ErrInvalidModule) {
			t.Fatalf("deploy of a module whose _initialize never returns: err = %v, want ErrInvalidModule", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deploy still running 20s after a 300ms step budget: _initialize was not stopped")
	}
	if _, err := h.Deploy(context.Background(), "raw", rawEcho(), ""); err != nil {
		t.Fatalf("host stopped serving deploys: %v", err)
	}
}

// The host imports no engine: a Config without one is refused, saying which
// is the default.
func TestNewRequiresAnEngine(t *testing.T) {
	db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := host.New(context.Background(), host.Config{Store: db, Logger: testLogger(t)})
	if err == nil {
		h.Close(context.Background())
		t.Fatal("host.New without Config.NewEngine succeeded")
	}
	if want := "Config.NewEngine is required"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "wazeroengine") {
		t.Errorf("err %q, want it to say %q and name wazeroengine", err, want)
	}
}
