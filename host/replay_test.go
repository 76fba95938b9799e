package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// noParking sends every await that has to wait down the cold path: the
// instance is dropped and the execution later resumes by replay.
func noParking(c *host.Config) { c.MaxParked = -1 }

// scenario is one deterministic execution whose result and journal must not
// depend on how it was resumed.
type scenario struct {
	fn, id string
	input  any
	// settle, if set, runs while the execution waits (e.g. an approval).
	settle func(t *testing.T, h *testHost)
}

func hotColdScenarios() []scenario {
	return []scenario{
		{fn: "fanout", id: "fan", input: map[string]any{"n": 25, "child": "square"}},
		{fn: "race", id: "race", input: map[string]int{"a_ms": 300, "b_ms": 30}},
		{fn: "steps", id: "steps", input: map[string]int{"steps": 0, "sleep_ms": 50}},
		{fn: "approve", id: "appr", input: map[string]int{}, settle: func(t *testing.T, h *testHost) {
			waitPromise(t, h, "appr.1")
			if _, err := h.Settle(context.Background(), store.Settle{ID: "appr.1", State: store.Resolved, Value: store.Value{Data: []byte(`{"by":"ops"}`)}}); err != nil {
				t.Fatal(err)
			}
		}},
	}
}

// runScenarios runs every scenario on a fresh host and returns, per id, the
// result and the journal (without wall-clock times).
func runScenarios(t *testing.T, configure ...func(*host.Config)) map[string]string {
	h := newHost(t, configure...)
	for _, name := range []string{"fanout", "square", "race", "steps", "approve"} {
		h.deploy(name, name)
	}
	out := map[string]string{}
	for _, sc := range hotColdScenarios() {
		id, err := h.Invoke(context.Background(), sc.fn, jsonBytes(t, sc.input), host.InvokeOptions{ID: sc.id})
		if err != nil {
			t.Fatal(err)
		}
		if sc.settle != nil {
			sc.settle(t, h)
		}
		p := h.await(id)
		j, err := h.Journal(context.Background(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", p.State, p.Value.Data)
		for _, e := range j {
			fmt.Fprintf(&b, "%d %s %x %s %x\n", e.Seq, e.Op, e.Digest, e.Child, e.Outcome)
		}
		out[id] = b.String()
	}
	return out
}

func TestHotAndColdResumeAgree(t *testing.T) {
	hot := runScenarios(t)
	cold := runScenarios(t, noParking)
	for id, want := range hot {
		if !strings.HasPrefix(want, "RESOLVED") {
			t.Errorf("%s did not resolve: %s", id, want)
		}
		if got := cold[id]; got != want {
			t.Errorf("%s: cold path differs from hot path\nhot:\n%s\ncold:\n%s", id, want, got)
		}
	}
}

func TestColdPathReallyReplays(t *testing.T) {
	// With parking off, a fan-out's parent must be rebuilt by replay for every
	// wait; it still finishes with the right answer.
	h := newHost(t, noParking)
	h.deploy("fanout", "fanout")
	h.deploy("square", "square")
	var out struct{ Sum int }
	resolved(t, h.run("fanout", map[string]any{"n": 12, "child": "square"}, host.InvokeOptions{}), &out)
	if out.Sum != 12*13*25/6 {
		t.Fatalf("sum %d", out.Sum)
	}
	if h.Parked() != 0 {
		t.Fatalf("%d parked with parking off", h.Parked())
	}
}

func TestNondeterminismFailsNamingTheStep(t *testing.T) {
	// The guest's test-only flag is 0 on its first call and 1 after: the
	// first run sleeps, the replay invokes instead.
	var calls atomic.Int32
	flag := engine.Import{Module: "reprise_test", Name: "flag", Results: []engine.ValueType{engine.I32},
		Func: func(ctx context.Context, mem engine.Memory, stack []uint64) {
			if calls.Add(1) > 1 {
				stack[0] = 1
			} else {
				stack[0] = 0
			}
		}}
	h := newHost(t, noParking, func(c *host.Config) { host.SetTestImports(c, []engine.Import{flag}) })
	h.deploy("nondet", "nondet")
	h.deploy("echo", "echo")
	p := h.run("nondet", nil, host.InvokeOptions{ID: "nd"})
	if p.State != store.Rejected {
		t.Fatalf("state %s (%s), want REJECTED", p.State, p.Value.Data)
	}
	for _, want := range []string{"non-determinism at step 1", "journal holds sleep", "invoke"} {
		if !strings.Contains(string(p.Value.Data), want) {
			t.Errorf("error %s does not say %q", p.Value.Data, want)
		}
	}
	if calls.Load() < 2 {
		t.Fatalf("flag read %d times: the execution was never replayed", calls.Load())
	}
	// Non-determinism is not retried: attempt stays 1.
	if e, err := h.Execution(context.Background(), "nd"); err != nil || e.Attempt != 1 {
		t.Fatalf("execution %+v, %v: want attempt 1", e, err)
	}
}

func TestRestartResumesWaitingExecutions(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir)
	h.deploy("approve", "approve")
	h.deploy("sleep", "sleep")
	if _, err := h.Invoke(context.Background(), "approve", []byte(`{}`), host.InvokeOptions{ID: "wait"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), "sleep", []byte(`{"ms":400}`), host.InvokeOptions{ID: "nap"}); err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, "wait.1")
	waitPromise(t, h, "nap.2") // step 1 is Now()
	h.close()                  // the sleep's timer fires while no host runs

	time.Sleep(500 * time.Millisecond)
	h = openHost(t, dir)
	var slept struct {
		SleptMS int64 `json:"slept_ms"`
	}
	resolved(t, h.await("nap"), &slept)
	if slept.SleptMS < 400 {
		t.Fatalf("slept %dms", slept.SleptMS)
	}
	if _, err := h.Settle(context.Background(), store.Settle{ID: "wait.1", State: store.Resolved, Value: store.Value{Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	resolved(t, h.await("wait"), nil)
}

func TestBadInputGetsClearErrorsAndHostKeepsServing(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.StepTimeout = 30 * time.Second // the endless loop has its own host below
		c.MemoryLimit = 48 << 20
		c.MaxPayload = 64 << 10
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
	})
	ctx := context.Background()
	h.deploy("misbehave", "misbehave")
	h.deploy("hello", "hello")

	deploys := []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "not WebAssembly"},
		{"truncated wasm", rawEcho()[:13], "compile"},
		{"no entry export", rawModule([][3]string{{"reprise_v1", "input", "0"}}, "start", []byte{0x41, 0, 0x41, 0, 0x10, 0, 0x1a}), `does not export the entry function "run"`},
		{"other ABI version", rawModule([][3]string{{"reprise_v2", "input", "0"}}, "run", []byte{0x41, 0, 0x41, 0, 0x10, 0, 0x1a}), "another ABI version"},
		{"unknown import", rawModule([][3]string{{"env", "open", "0"}}, "run", []byte{0x41, 0, 0x41, 0, 0x10, 0, 0x1a}), "env.open"},
		{"unknown ABI call", rawModule([][3]string{{"reprise_v1", "exec", "0"}}, "run", []byte{0x41, 0, 0x41, 0, 0x10, 0, 0x1a}), "reprise_v1.exec"},
	}
	for _, tc := range deploys {
		t.Run("deploy "+tc.name, func(t *testing.T) {
			_, err := h.Deploy(ctx, "bad", tc.wasm, "")
			if !errors.Is(err, host.ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidModule saying %q", err, tc.want)
			}
		})
	}
	if _, err := h.Functions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(ctx, "bad", nil, host.InvokeOptions{}); !errors.Is(err, host.ErrUnknownFunction) {
		t.Fatalf("a refused deploy left a function behind: invoke err = %v", err)
	}

	runs := []struct {
		name  string
		input string
		want  string
	}{
		{"trap", `{"mode":"panic"}`, "boom"},
		{"memory past the cap", `{"mode":"grow"}`, "out of memory"},
		{"oversized result", `{"mode":"big","size":100000}`, "too large"},
		{"bad handle", `{"mode":"badhandle"}`, "bad handle"},
		{"guest error", `{"mode":"reject"}`, "nope"},
	}
	ids := map[string]string{}
	for _, tc := range runs { // all at once: one misbehaving guest must not hold up another
		id, err := h.Invoke(ctx, "misbehave", []byte(tc.input), host.InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[tc.name] = id
	}
	for _, tc := range runs {
		t.Run(tc.name, func(t *testing.T) {
			p := h.await(ids[tc.name])
			if p.State != store.Rejected || !strings.Contains(strings.ToLower(string(p.Value.Data)), tc.want) {
				t.Fatalf("got %s %s, want REJECTED mentioning %q", p.State, p.Value.Data, tc.want)
			}
		})
	}
	if e, _ := h.Execution(ctx, ids["trap"]); e.Attempt != 2 || !strings.Contains(e.LastError, "boom") {
		t.Errorf("trap: attempt %d, last error %q: want the retry policy's 2 attempts", e.Attempt, e.LastError)
	}

	t.Run("endless loop", func(t *testing.T) {
		short := newHost(t, func(c *host.Config) {
			c.StepTimeout = 300 * time.Millisecond
			c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
		})
		short.deploy("misbehave", "misbehave")
		start := time.Now()
		p := short.run("misbehave", map[string]string{"mode": "loop"}, host.InvokeOptions{})
		if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "step time limit") {
			t.Fatalf("got %s %s, want REJECTED naming the step time limit", p.State, p.Value.Data)
		}
		if el := time.Since(start); el > 20*time.Second {
			t.Fatalf("stopping the loop took %v", el)
		}
	})
	t.Run("oversized input", func(t *testing.T) {
		_, err := h.Invoke(ctx, "hello", bytes.Repeat([]byte("x"), 65<<10), host.InvokeOptions{})
		if !errors.Is(err, host.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		_, err := h.Invoke(ctx, "nope", nil, host.InvokeOptions{})
		if !errors.Is(err, host.ErrUnknownFunction) || !strings.Contains(err.Error(), "deploy it") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad execution id", func(t *testing.T) {
		_, err := h.Invoke(ctx, "hello", nil, host.InvokeOptions{ID: "../etc"})
		if !errors.Is(err, host.ErrBadName) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("host still serves", func(t *testing.T) {
		var out struct{ Greeting string }
		resolved(t, h.run("hello", map[string]string{"name": "after"}, host.InvokeOptions{}), &out)
		if out.Greeting != "Hello, after!" {
			t.Fatalf("%+v", out)
		}
	})
}

func TestChildOfUnknownFunctionRejects(t *testing.T) {
	h := newHost(t)
	h.deploy("fanout", "fanout")
	p := h.run("fanout", map[string]any{"n": 2, "child": "missing"}, host.InvokeOptions{})
	if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), `\"missing\" is not deployed`) && !strings.Contains(string(p.Value.Data), `missing`) {
		t.Fatalf("got %s %s", p.State, p.Value.Data)
	}
}

func TestParkingIsBoundedByEviction(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxParked = 2 })
	h.deploy("approve", "approve")
	ctx := context.Background()
	const n = 6
	for i := range n {
		if _, err := h.Invoke(ctx, "approve", []byte(`{}`), host.InvokeOptions{ID: fmt.Sprint("ev", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		waitPromise(t, h, fmt.Sprint("ev", i, ".1"))
	}
	time.Sleep(100 * time.Millisecond)
	if p := h.Parked(); p > 2 {
		t.Fatalf("%d executions parked, the bound is 2", p)
	}
	for i := range n {
		v := fmt.Sprintf(`"v%d"`, i)
		if _, err := h.Settle(ctx, store.Settle{ID: fmt.Sprint("ev", i, ".1"), State: store.Resolved, Value: store.Value{Data: []byte(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		var out struct{ Value string }
		resolved(t, h.await(fmt.Sprint("ev", i)), &out)
		if want := fmt.Sprintf(`"v%d"`, i); out.Value != want {
			t.Errorf("ev%d saw %q, want %q", i, out.Value, want)
		}
	}
}
