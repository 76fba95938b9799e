//go:build wasmtime

package wasmtimeengine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/reprise-wasm/reprise/engine"
)

// hostPanic is a host function's panic, caught where the function was
// called so that the guest unwinds with a trap (and its stack) instead.
type hostPanic struct {
	value any
	frame engine.Frame // the host function's
}

// err is the error of the call the panic ended: an exit for proc_exit,
// otherwise a HostPanicError with the stack of trap, the error that
// unwound the guest.
func (p *hostPanic) err(trap error) error {
	if exit, ok := p.value.(*engine.ExitError); ok {
		return exit
	}
	err, ok := p.value.(error)
	if !ok {
		err = fmt.Errorf("%v", p.value)
	}
	stack := engine.Stack{p.frame}
	var t *wasmtime.Trap
	var werr *wasmtime.Error
	switch {
	case errors.As(trap, &t):
		stack = appendFrames(stack, t)
	case errors.As(trap, &werr):
		stack = errorFrames(stack, werr)
	}
	return &engine.HostPanicError{Err: err, Stack: stack}
}

// trapMessages says what each trap code means, in the engine package's
// words (wazero's).
var trapMessages = map[wasmtime.TrapCode]string{
	wasmtime.StackOverflow:          engine.TrapStackOverflow,
	wasmtime.MemoryOutOfBounds:      engine.TrapMemoryOutOfBounds,
	wasmtime.HeapMisaligned:         engine.TrapUnalignedAtomic,
	wasmtime.TableOutOfBounds:       engine.TrapTableOutOfBounds,
	wasmtime.IndirectCallToNull:     engine.TrapTableOutOfBounds,
	wasmtime.BadSignature:           engine.TrapIndirectCallType,
	wasmtime.IntegerOverflow:        engine.TrapIntegerOverflow,
	wasmtime.IntegerDivisionByZero:  engine.TrapIntegerDivideByZero,
	wasmtime.BadConversionToInteger: engine.TrapInvalidConversion,
	wasmtime.UnreachableCodeReached: engine.TrapUnreachable,
}

// fromWasmtime turns an error from Wasmtime into the engine package's: a
// trap becomes an engine.TrapError, anything else a plain error with
// Wasmtime's message without its multi-line decoration (cause chain, Rust
// backtrace).
func fromWasmtime(err error) error {
	var trap *wasmtime.Trap
	if errors.As(err, &trap) {
		te := &engine.TrapError{}
		if code := trap.Code(); code != nil && trapMessages[*code] != "" {
			te.Message = trapMessages[*code]
		} else {
			te.Message = cleanMessage(trap.Message())
		}
		te.Stack = appendFrames(nil, trap)
		return te
	}
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		return errors.New(cleanMessage(werr.Error()))
	}
	return err
}

// appendFrames appends the trap's frames to stack, up to engine.MaxFrames,
// named by engine.Frame's rule.
func appendFrames(stack engine.Stack, trap *wasmtime.Trap) engine.Stack {
	for _, f := range trap.Frames() {
		if len(stack) == engine.MaxFrames {
			break
		}
		stack = append(stack, newFrame(f.FuncIndex(), f.ModuleName(), f.FuncName(), f.ModuleOffset()))
	}
	return stack
}

// newFrame is a Wasmtime frame named by engine.Frame's rule: the function
// at index idx of module, named fn in its name section, and offset off in
// the module.
func newFrame(idx uint32, module, fn *string, off uint) engine.Frame {
	f := engine.Frame{Func: fmt.Sprintf("$%d", idx)}
	if module != nil {
		f.Module = *module
	}
	if fn != nil && *fn != "" {
		f.Func = *fn
	}
	if off != ^uint(0) { // unknown, as at a stack overflow
		f.Detail = fmt.Sprintf(" (at 0x%x)", off)
	}
	return f
}

// cleanMessage folds Wasmtime's error text, which is Rust's anyhow debug
// format ("msg\n\nCaused by:\n    cause\n\nStack backtrace:\n ..."), into one
// line: "msg: cause". The Rust backtrace (there with RUST_BACKTRACE set) is
// about Wasmtime itself, never the guest: it is dropped.
func cleanMessage(s string) string {
	s, _, _ = strings.Cut(s, "\n\nStack backtrace:")
	head, causes, ok := strings.Cut(s, "\n\nCaused by:\n")
	if !ok {
		return strings.TrimSpace(s)
	}
	parts := []string{strings.TrimSpace(head)}
	if strings.HasPrefix(parts[0], "error while executing at wasm backtrace:") {
		parts = parts[:0] // a trap's frames: engine.TrapError lists them
	}
	for _, l := range strings.Split(causes, "\n") {
		l = strings.TrimSpace(l)
		// With several causes, each line is numbered: "0: msg".
		if n, rest, ok := strings.Cut(l, ": "); ok && strings.Trim(n, "0123456789") == "" {
			l = rest
		}
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ": ")
}
