//go:build wasmtime

package wasmtimeengine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/tetratelabs/wazero/sys"
)

// TrapError is a guest trap: what went wrong and the wasm stack, innermost
// call first. Its text has the shape of wazero's ("wasm error: ...\nwasm
// stack trace:\n\t..."), so the host reports traps the same way on either
// engine.
type TrapError struct {
	Message string
	Stack   []string
}

func (e *TrapError) Error() string {
	var b strings.Builder
	b.WriteString("wasm error: ")
	b.WriteString(e.Message)
	if len(e.Stack) > 0 {
		b.WriteString("\nwasm stack trace:")
		for _, f := range e.Stack {
			b.WriteString("\n\t")
			b.WriteString(f)
		}
	}
	return b.String()
}

// HostPanicError is a Go panic in a host function, carried out of the guest
// as an error. When the panic value is an error, Unwrap returns it, so
// errors.Is and errors.As see what the host function panicked with.
type HostPanicError struct{ Value any }

func (p *HostPanicError) Error() string { return fmt.Sprintf("host function panicked: %v", p.Value) }

func (p *HostPanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// fromPanic is the error for a panic that wasmtime-go carried out of a call.
func fromPanic(p any) error {
	var exit *sys.ExitError
	if err, ok := p.(error); ok && errors.As(err, &exit) {
		// proc_exit: the same error wazero returns, so the host classifies
		// an exit the same way on either engine.
		return exit
	}
	return &HostPanicError{Value: p}
}

// trapMessages says what each trap code means, in wazero's words.
var trapMessages = map[wasmtime.TrapCode]string{
	wasmtime.StackOverflow:          "stack overflow",
	wasmtime.MemoryOutOfBounds:      "out of bounds memory access",
	wasmtime.HeapMisaligned:         "unaligned atomic",
	wasmtime.TableOutOfBounds:       "invalid table access",
	wasmtime.IndirectCallToNull:     "invalid table access",
	wasmtime.BadSignature:           "indirect call type mismatch",
	wasmtime.IntegerOverflow:        "integer overflow",
	wasmtime.IntegerDivisionByZero:  "integer divide by zero",
	wasmtime.BadConversionToInteger: "invalid conversion to integer",
	wasmtime.UnreachableCodeReached: "unreachable",
	wasmtime.Interrupt:              "interrupted",
	wasmtime.OutOfFuel:              "out of fuel",
}

// fromWasmtime turns an error from Wasmtime into a plain Go error: a trap
// becomes a TrapError, anything else keeps its message without Wasmtime's
// multi-line decoration (cause chain, Rust backtrace).
func fromWasmtime(err error) error {
	var trap *wasmtime.Trap
	if errors.As(err, &trap) {
		te := &TrapError{}
		if code := trap.Code(); code != nil && trapMessages[*code] != "" {
			te.Message = trapMessages[*code]
		} else {
			te.Message = cleanMessage(trap.Message())
		}
		for _, f := range trap.Frames() {
			name := fmt.Sprintf("func[%d]", f.FuncIndex())
			if n := f.FuncName(); n != nil {
				name = *n
			}
			te.Stack = append(te.Stack, fmt.Sprintf("%s (at 0x%x)", name, f.ModuleOffset()))
		}
		return te
	}
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		return errors.New(cleanMessage(werr.Error()))
	}
	return err
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
		parts = parts[:0] // a trap's frames: TrapError lists them
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
