package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The errors a guest call ends with. Instance.Call (and Module.Instantiate,
// for a module's start function and _initialize) returns one of these, or
// wraps one, so that the host tells a trap from an exit or an interruption
// with errors.As and errors.Is alone, on any engine, and never reads an
// engine's text.

// What TrapError.Message says for the traps WebAssembly defines. They are
// wazero's words, which the host has always shown; every engine says them
// the same way.
const (
	TrapUnreachable         = "unreachable"
	TrapStackOverflow       = "stack overflow"
	TrapMemoryOutOfBounds   = "out of bounds memory access"
	TrapTableOutOfBounds    = "invalid table access" // also a call_indirect of a null element
	TrapIndirectCallType    = "indirect call type mismatch"
	TrapIntegerDivideByZero = "integer divide by zero"
	TrapIntegerOverflow     = "integer overflow"
	TrapInvalidConversion   = "invalid conversion to integer"
	TrapUnalignedAtomic     = "unaligned atomic"
)

// TrapError is a trap: the guest did what WebAssembly forbids (reached
// unreachable, divided by zero, accessed memory out of bounds, overflowed
// its stack...) and was unwound.
type TrapError struct {
	// Message says what trapped: one of the Trap constants for the traps
	// WebAssembly defines, otherwise the engine's own words.
	Message string
	// Stack is where: the guest's stack at the trap, innermost call first.
	// It is empty when the engine cannot tell (wazero gives no stack for a
	// stack overflow).
	Stack Stack
}

// Error is the trap in wazero's shape: "wasm error: " and the message, then
// the stack trace on the lines after.
func (e *TrapError) Error() string { return e.text("") }

// text is the error with note added to the message.
func (e *TrapError) text(note string) string {
	s := "wasm error: " + e.Message + note
	if len(e.Stack) > 0 {
		s += "\n" + e.Stack.String()
	}
	return s
}

// ExitError is a guest that called WASI's proc_exit, with code 0 too: the
// call ended there, and the instance cannot be used again.
type ExitError struct{ Code uint32 }

func (e *ExitError) Error() string { return fmt.Sprintf("guest called proc_exit(%d)", e.Code) }

// ErrInterrupted is in the error of a call that the engine stopped because
// its context was done. The error comes from Interrupted, so that
// errors.Is finds the context's cause in it too.
var ErrInterrupted = errors.New("guest interrupted")

// Interrupted is the error of a call stopped because ctx is done: it wraps
// ErrInterrupted and context.Cause(ctx).
func Interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return ErrInterrupted
	}
	return fmt.Errorf("%w: %w", ErrInterrupted, cause)
}

// HostPanicError is a host function that panicked: the engine unwound the
// guest from the call and returns the panic as this error. Unwrap gives
// Err, so errors.Is and errors.As see what the host function panicked with.
type HostPanicError struct {
	// Err is the panic's value when it is an error, otherwise an error
	// whose text is the value's (fmt's %v).
	Err error
	// Stack is the guest's stack at the call, innermost first: the host
	// function (its import module and name), then the guest function that
	// called it, and so on.
	Stack Stack
}

func (e *HostPanicError) Error() string { return "host function panicked: " + e.Err.Error() }
func (e *HostPanicError) Unwrap() error { return e.Err }

// MemoryError is a trap of a guest whose memory had grown past half the
// memory limit (Config.MemoryLimitPages). An engine cannot see a
// memory.grow fail (it returns -1 to the guest, which then traps its own
// way: Go's "out of memory", Rust's abort), so it states the guest's memory
// next to the limit: the message then says what was probably wrong and what
// to raise.
type MemoryError struct {
	Err         error // the trap: a *TrapError
	Size, Limit uint64
}

func (e *MemoryError) Unwrap() error { return e.Err }

// Note is what the error adds to the trap's message.
func (e *MemoryError) Note() string {
	return fmt.Sprintf(" (the guest's memory had grown to %s, over half the memory limit of %s: memory.grow past the limit fails)", mib(e.Size), mib(e.Limit))
}

// Error is the trap's text with the note after its message, before the
// stack trace, so that it stays in the first line.
func (e *MemoryError) Error() string {
	var trap *TrapError
	if errors.As(e.Err, &trap) {
		return trap.text(e.Note())
	}
	return e.Err.Error() + e.Note()
}

func mib(n uint64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// MaxFrames is the most frames a Stack holds: the innermost ones. A stack
// of MaxFrames may have had more.
const MaxFrames = 30

// Stack is a guest's stack, innermost call first, at most MaxFrames frames.
type Stack []Frame

// String is the stack as wazero prints it, and as the host shows it: a
// line "wasm stack trace:", then a tab and a frame on each line, and a last
// line when the stack holds MaxFrames frames, which may not be all of them.
// It is "" for an empty stack.
func (s Stack) String() string {
	if len(s) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("wasm stack trace:")
	for _, f := range s {
		b.WriteString("\n\t")
		b.WriteString(f.String())
	}
	if len(s) >= MaxFrames {
		b.WriteString("\n\t... maybe followed by omitted frames")
	}
	return b.String()
}

// Frame is one call on a guest's stack. Module and Func name the function
// the same way on every engine, as wazero does.
type Frame struct {
	// Module is the name the module's "name" section gives the module, ""
	// without one (the usual case). A host function's is its import
	// module, as "env" or "wasi_snapshot_preview1".
	Module string
	// Func is the name the "name" section gives the function or, without
	// one (or an empty one), "$" and the function's index in the module,
	// imported functions first: "$3". A host function's is its import
	// name.
	Func string
	// Detail is what else the engine tells of the frame, for people: it
	// differs between engines. wazero gives the signature, "(i32) i64",
	// and with DWARF the source lines after it (each on a line of its own,
	// after "\n\t"); wasmtimeengine the offset of the call in the module,
	// " (at 0x7e)". Compare frames by Module and Func.
	Detail string
}

// String is the frame as a stack trace shows it: module, ".", function and
// the detail, as ".main.main()" for a function of a module without a name.
func (f Frame) String() string { return f.Module + "." + f.Func + f.Detail }
