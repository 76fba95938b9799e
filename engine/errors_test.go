package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/engine"
)

func TestTrapTextHasWazerosShape(t *testing.T) {
	trap := &engine.TrapError{Message: engine.TrapUnreachable, Stack: engine.Stack{
		{Func: "inner", Detail: "()"}, {Module: "env", Func: "call", Detail: "(i32) i32"},
	}}
	if got, want := trap.Error(), "wasm error: unreachable\nwasm stack trace:\n\t.inner()\n\tenv.call(i32) i32"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (&engine.TrapError{Message: engine.TrapStackOverflow}).Error(); got != "wasm error: stack overflow" {
		t.Errorf("without a stack: %q", got)
	}
	mem := &engine.MemoryError{Err: trap, Size: 40 << 20, Limit: 64 << 20}
	want := "wasm error: unreachable (the guest's memory had grown to 40 MiB, over half the memory limit of 64 MiB: memory.grow past the limit fails)\nwasm stack trace:"
	if !strings.HasPrefix(mem.Error(), want) || !errors.Is(mem, trap) {
		t.Errorf("memory error %q, want it to start %q and wrap the trap", mem, want)
	}
}

func TestStackOfMaxFramesSaysSomeMayBeOmitted(t *testing.T) {
	s := make(engine.Stack, engine.MaxFrames)
	for i := range s {
		s[i] = engine.Frame{Func: "f"}
	}
	if got := s.String(); !strings.HasSuffix(got, "\n\t.f\n\t... maybe followed by omitted frames") {
		t.Errorf("got %q", got)
	}
	if got := s[:2].String(); got != "wasm stack trace:\n\t.f\n\t.f" {
		t.Errorf("got %q", got)
	}
	if got := engine.Stack(nil).String(); got != "" {
		t.Errorf("empty stack: %q", got)
	}
}

func TestInterruptedWrapsTheCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("step time limit")
	cancel(cause)
	err := engine.Interrupted(ctx)
	if !errors.Is(err, engine.ErrInterrupted) || !errors.Is(err, cause) || err.Error() != "guest interrupted: step time limit" {
		t.Errorf("got %v", err)
	}
	if err := engine.Interrupted(context.Background()); err != engine.ErrInterrupted {
		t.Errorf("with a live context: %v", err)
	}
}

func TestHostPanicUnwrapsItsError(t *testing.T) {
	sentinel := errors.New("sentinel")
	err := error(&engine.HostPanicError{Err: sentinel})
	if !errors.Is(err, sentinel) || err.Error() != "host function panicked: sentinel" {
		t.Errorf("got %v", err)
	}
}
