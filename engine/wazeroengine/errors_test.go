package wazeroengine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/sys"

	"github.com/reprise-wasm/reprise/engine"
)

// wazero's error texts, read back into the engine's errors: what each kind
// of text becomes, and that a stack prints again as wazero printed it.

var testNames = frameNames{module: "", hosts: []string{"wasi_snapshot_preview1", "env", "env.v2"}}

func TestTrapTextBecomesTrapError(t *testing.T) {
	trace := ".main.(*T).M(i32) i32\n\t\tmain.go:3:5\n\tenv.v2.get(i32,i64) (i32,i64)\n\t.$7()\n\t.run()"
	err := fmt.Errorf("wasm error: %w\nwasm stack trace:\n\t%s", errors.New("unreachable"), trace)
	got := fromWazero(context.Background(), err, testNames)
	want := &engine.TrapError{Message: "unreachable", Stack: engine.Stack{
		{Module: "", Func: "main.(*T).M", Detail: "(i32) i32\n\t\tmain.go:3:5"},
		{Module: "env.v2", Func: "get", Detail: "(i32,i64) (i32,i64)"},
		{Module: "", Func: "$7", Detail: "()"},
		{Module: "", Func: "run", Detail: "()"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if got.Error() != err.Error() {
		t.Errorf("the trap prints as\n%s\nnot as wazero's\n%s", got, err)
	}
}

func TestLongStackKeepsMaxFrames(t *testing.T) {
	frames := strings.Repeat(".f()\n\t", engine.MaxFrames) + "... maybe followed by omitted frames"
	err := fmt.Errorf("wasm error: %w\nwasm stack trace:\n\t%s", errors.New("out of bounds memory access"), frames)
	var trap *engine.TrapError
	if !errors.As(fromWazero(context.Background(), err, testNames), &trap) || len(trap.Stack) != engine.MaxFrames {
		t.Fatalf("got %v, want a trap with %d frames", trap, engine.MaxFrames)
	}
	if trap.Error() != err.Error() {
		t.Errorf("the trap prints as\n%s\nnot as wazero's\n%s", trap, err)
	}
}

func TestHostPanicTextBecomesHostPanicError(t *testing.T) {
	ctx := context.Background()
	stack := engine.Stack{{Module: "env", Func: "boom", Detail: "()"}, {Func: "run", Detail: "()"}}
	sentinel := errors.New("sentinel")
	for name, tc := range map[string]struct {
		err     error
		message string
	}{
		"error":         {fmt.Errorf("%w (recovered by wazero)\nwasm stack trace:\n\tenv.boom()\n\t.run()", sentinel), "sentinel"},
		"value":         {fmt.Errorf("%v (recovered by wazero)\nwasm stack trace:\n\tenv.boom()\n\t.run()", 42), "42"},
		"runtime error": {fmt.Errorf("%w (recovered by wazero)\nwasm stack trace:\n\tenv.boom()\n\t.run()\n\nGo runtime stack trace:\ngoroutine 1 [running]:\n...", runtimeError()), runtimeError().Error()},
	} {
		var hp *engine.HostPanicError
		if !errors.As(fromWazero(ctx, tc.err, testNames), &hp) || hp.Err.Error() != tc.message || !reflect.DeepEqual(hp.Stack, stack) {
			t.Errorf("%s: got %#v, want a HostPanicError %q with the stack %v", name, hp, tc.message, stack)
		}
	}
	if err := fromWazero(ctx, fmt.Errorf("%w (recovered by wazero)\nwasm stack trace:\n\tenv.boom()", sentinel), testNames); !errors.Is(err, sentinel) {
		t.Errorf("errors.Is does not find the panic's error in %v", err)
	}
}

func runtimeError() (err error) {
	defer func() { err = recover().(runtime.Error) }()
	var m map[string]int
	m["x"]++
	return nil
}

func TestExitAndContextCodes(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancelCause(live)
	cause := errors.New("step time limit")
	cancel(cause)
	for _, tc := range []struct {
		ctx  context.Context
		code uint32
		want error
	}{
		{live, 3, &engine.ExitError{Code: 3}},
		{live, 0, &engine.ExitError{Code: 0}},
		// A guest may exit with any code, these too, while its context lives.
		{live, sys.ExitCodeContextCanceled, &engine.ExitError{Code: sys.ExitCodeContextCanceled}},
		{canceled, 3, &engine.ExitError{Code: 3}},
		{canceled, sys.ExitCodeContextCanceled, engine.ErrInterrupted},
		{canceled, sys.ExitCodeDeadlineExceeded, engine.ErrInterrupted},
	} {
		got := fromWazero(tc.ctx, sys.NewExitError(tc.code), testNames)
		if tc.want == engine.ErrInterrupted {
			if !errors.Is(got, engine.ErrInterrupted) || !errors.Is(got, cause) {
				t.Errorf("exit code %#x with a done context: %v, want interrupted by the cause", tc.code, got)
			}
		} else if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("exit code %#x: %#v, want %#v", tc.code, got, tc.want)
		}
	}
}

func TestOtherErrorsStayAsTheyAre(t *testing.T) {
	if got := fromWazero(context.Background(), errors.New(engine.TrapStackOverflow), testNames); !reflect.DeepEqual(got, &engine.TrapError{Message: engine.TrapStackOverflow}) {
		t.Errorf("bare stack overflow: %#v", got)
	}
	other := errors.New("expected 1 params, but passed 0")
	if got := fromWazero(context.Background(), other, testNames); got != other {
		t.Errorf("%v became %#v", other, got)
	}
	start := fmt.Errorf("start function[4] failed: %w", other)
	if got := startError(start); got != other {
		t.Errorf("startError(%v) = %v", start, got)
	}
}
