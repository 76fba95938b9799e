package wazeroengine

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/tetratelabs/wazero/sys"

	"github.com/reprise-wasm/reprise/engine"
)

// wazero's errors of a guest call, which become the engine's (see
// engine.Instance.Call). wazero hands out a trap and a host function's panic
// as text, with the stack in it:
//
//	wasm error: unreachable
//	wasm stack trace:
//		.inner()
//		.run()
//
//	<the panic's error or value> (recovered by wazero)
//	wasm stack trace:
//		env.boom()
//		.run()
//
// (a panic that is a runtime.Error has "\n\nGo runtime stack trace:" and
// Go's stack after its frames), a stack overflow as its bare message, and
// an exit or a done context as a *sys.ExitError. This file is the only
// place that reads that text.
const (
	trapPrefix  = "wasm error: "
	stackMarker = "\nwasm stack trace:\n\t"
	panicMarker = " (recovered by wazero)" + stackMarker
	goStack     = "\n\nGo runtime stack trace:"
	omitted     = "... maybe followed by omitted frames"
)

// fromWazero is the engine's error for err, which ended a call of guest
// code with ctx; names splits the frames' names.
func fromWazero(ctx context.Context, err error, names frameNames) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if ctx.Err() != nil && (code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded) {
			return engine.Interrupted(ctx)
		}
		return &engine.ExitError{Code: code}
	}
	s := err.Error()
	if s == engine.TrapStackOverflow {
		return &engine.TrapError{Message: s} // wazero does not unwind it
	}
	inner := errors.Unwrap(err)
	if inner != nil {
		if trace, ok := strings.CutPrefix(s, trapPrefix+inner.Error()+stackMarker); ok {
			return &engine.TrapError{Message: inner.Error(), Stack: names.parse(trace)}
		}
		if trace, ok := strings.CutPrefix(s, inner.Error()+panicMarker); ok {
			return &engine.HostPanicError{Err: inner, Stack: names.parse(trace)}
		}
	}
	if msg, trace, ok := strings.Cut(s, panicMarker); ok { // a value that is not an error
		return &engine.HostPanicError{Err: errors.New(msg), Stack: names.parse(trace)}
	}
	return err
}

// startError unwraps the error of a module's start function, which wazero
// gives as "start function[0] failed: <err>".
func startError(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		s := err.Error()
		if strings.HasPrefix(s, "start ") && strings.HasSuffix(s, " failed: "+inner.Error()) {
			return inner
		}
	}
	return err
}

// frameNames splits a frame's name, "module.function", where the module
// name may have dots too: the guest module's name and those of the host
// modules are known.
type frameNames struct {
	module string   // the guest's, from its name section
	hosts  []string // the host modules'
}

// signature is the end of a frame's line: wazero's signature of the
// function, "(i32,i64)" and results as " i32" or " (i32,i64)". The name
// before it is the shortest that leaves a signature, as a Go name such as
// "main.(*T).M" has parentheses of its own.
var signature = regexp.MustCompile(`^(.*?)(\([a-z0-9,]*\)(?: [a-z0-9]+| \([a-z0-9,]*\))?)$`)

// parse reads the frames of a stack trace, the text after its first "\n\t".
func (n frameNames) parse(trace string) engine.Stack {
	trace, _, _ = strings.Cut(trace, goStack)
	var stack engine.Stack
	for _, line := range strings.Split(trace, "\n\t") {
		switch {
		case line == omitted:
		case strings.HasPrefix(line, "\t") && len(stack) > 0: // a source line of the frame before
			stack[len(stack)-1].Detail += "\n\t" + line
		case len(stack) < engine.MaxFrames:
			name, detail := line, ""
			if m := signature.FindStringSubmatch(line); m != nil {
				name, detail = m[1], m[2]
			}
			mod, fn := n.split(name)
			stack = append(stack, engine.Frame{Module: mod, Func: fn, Detail: detail})
		}
	}
	return stack
}

func (n frameNames) split(name string) (module, fn string) {
	found := strings.HasPrefix(name, n.module+".")
	if found {
		module = n.module
	}
	for _, h := range n.hosts {
		if len(h) > len(module) && strings.HasPrefix(name, h+".") {
			module, found = h, true
		}
	}
	if found {
		return module, name[len(module)+1:]
	}
	if module, fn, ok := strings.Cut(name, "."); ok {
		return module, fn
	}
	return "", name
}
