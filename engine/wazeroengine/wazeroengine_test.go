package wazeroengine_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

type nullSys struct{}

func (nullSys) Walltime() (int64, int32)   { return 0, 0 }
func (nullSys) Nanotime() int64            { return 0 }
func (nullSys) Nanosleep(int64)            {}
func (nullSys) Read(p []byte) (int, error) { clear(p); return len(p), nil }
func (nullSys) Stdout() io.Writer          { return io.Discard }
func (nullSys) Stderr() io.Writer          { return io.Discard }

// guest has run (exported, calling env.note then code) and ok (exported,
// calling env.note only).
func guest(t *testing.T, e engine.Engine, memory int, code []byte) engine.Instance {
	t.Helper()
	m := wt.Module{Memory: memory}
	m.Import("env", "note", nil, nil)
	m.Func("run", nil, wt.Call(0), code)
	m.Func("ok", nil, wt.Call(0))
	ctx := context.Background()
	cm, err := e.Compile(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cm.Close(ctx) })
	in, err := cm.Instantiate(ctx, nullSys{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(ctx) })
	return in
}

func newEngine(t *testing.T, pages uint32, note func()) engine.Engine {
	t.Helper()
	e, err := wazeroengine.New(context.Background(), engine.Config{MemoryLimitPages: pages, Imports: []engine.Import{
		{Module: "env", Name: "note", Func: func(context.Context, engine.Memory, []uint64) { note() }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func TestInstanceServesAfterTrapAndHostPanic(t *testing.T) {
	ctx := context.Background()
	panicking := false
	e := newEngine(t, 0, func() {
		if panicking {
			panic("boom")
		}
	})
	in := guest(t, e, 1, []byte{0x00})
	var trap *engine.TrapError
	if err := in.Call(ctx, "run"); !errors.As(err, &trap) || trap.Message != engine.TrapUnreachable {
		t.Fatalf("run: %v, want unreachable", err)
	}
	if err := in.Call(ctx, "ok"); err != nil {
		t.Fatalf("after a trap: %v", err)
	}
	panicking = true
	var hp *engine.HostPanicError
	if err := in.Call(ctx, "ok"); !errors.As(err, &hp) {
		t.Fatalf("ok with a panicking host function: %v", err)
	}
	panicking = false
	if err := in.Call(ctx, "ok"); err != nil {
		t.Fatalf("after a host function's panic: %v", err)
	}
}

func TestDoneContextDoesNotStartTheGuest(t *testing.T) {
	notes := 0
	e := newEngine(t, 0, func() { notes++ })
	in := guest(t, e, 1, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	cancel(cause)
	if err := in.Call(ctx, "run"); !errors.Is(err, engine.ErrInterrupted) || !errors.Is(err, cause) || notes != 0 {
		t.Fatalf("err %v after %d host calls, want interrupted by the cause before any", err, notes)
	}
}

func TestMemoryNoteOnlyPastHalfTheLimit(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, 4, func() {})
	var mem *engine.MemoryError
	if err := guest(t, e, 2, []byte{0x00}).Call(ctx, "run"); errors.As(err, &mem) {
		t.Errorf("at half the limit: %v, want no memory note", err)
	}
	err := guest(t, e, 3, []byte{0x00}).Call(ctx, "run")
	if !errors.As(err, &mem) || mem.Size != 3<<16 || mem.Limit != 4<<16 {
		t.Fatalf("past half the limit: %v, want a MemoryError", err)
	}
	if want := "wasm error: unreachable (the guest's memory had grown to 0.2 MiB, over half the memory limit of 0.2 MiB"; !errors.As(err, new(*engine.TrapError)) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("text %q, want it to start %q", err, want)
	}
	// A module whose memory starts past the limit does not run.
	m := wt.Module{Memory: 5}
	m.Func("run", nil)
	if cm, err := e.Compile(ctx, m.Bytes()); err == nil {
		if in, err := cm.Instantiate(ctx, nullSys{}); err == nil {
			in.Close(ctx)
			t.Error("a module whose memory starts past the limit instantiated")
		}
	}
}

// wazero's validator panics on some malformed modules (here: functions of
// a type index past the types, with a call between them); Compile returns
// that as an error, and the engine goes on compiling.
func TestCompileTurnsAPanicOfTheEngineIntoAnError(t *testing.T) {
	e := newEngine(t, 1, nil)
	crasher := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x03\x02\x00n\n\x17\x02\x06\x00A\x03\x10\x01\v\x0e\x00 .\x04@ \x00A\x01k\x10\x01\v\v")
	if _, err := e.Compile(context.Background(), crasher); err == nil || !strings.Contains(err.Error(), "the engine failed on this module") {
		t.Fatalf("Compile: %v, want the engine's failure as an error", err)
	}
	if m, err := e.Compile(context.Background(), []byte("\x00asm\x01\x00\x00\x00")); err != nil {
		t.Fatalf("an empty module after: %v", err)
	} else {
		m.Close(context.Background())
	}
}
