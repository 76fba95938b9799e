//go:build wasip1

package reprise

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/reprise-wasm/reprise/abi"
)

var handler func([]byte) ([]byte, error)

// Handle registers fn as the function's handler. Call it from an init
// function: a reactor module's main is never run. The input JSON is decoded
// into an I (empty input leaves I's zero value); the O returned is encoded
// as the JSON result. A returned error rejects the execution with
// {"error": err.Error()}; a panic traps, and the host retries the attempt.
func Handle[I, O any](fn func(I) (O, error)) {
	HandleBytes(func(in []byte) ([]byte, error) {
		var i I
		if len(in) > 0 {
			if err := json.Unmarshal(in, &i); err != nil {
				return nil, fmt.Errorf("reprise: decoding input: %w", err)
			}
		}
		o, err := fn(i)
		if err != nil {
			return nil, err
		}
		return json.Marshal(o)
	})
}

// HandleBytes is Handle for raw bytes in and out, with no JSON.
func HandleBytes(fn func([]byte) ([]byte, error)) {
	if handler != nil {
		panic("reprise: Handle called twice")
	}
	handler = fn
}

// run is the entry point the host calls once per execution attempt.
//
//go:wasmexport run
func run() {
	if handler == nil {
		reject(fmt.Errorf("reprise: no handler: call reprise.Handle from an init function (main does not run in a reactor)"))
		return
	}
	Serve(handler)
}

// Serve runs fn as an execution: it reads the input, calls fn and sets the
// result or rejection. The entry point "run" serves the Handle'd function;
// Serve lets a module export more entry points, each deployable as its own
// function:
//
//	//go:wasmexport echo
//	func echo() { reprise.Serve(func(in []byte) ([]byte, error) { return in, nil }) }
func Serve(fn func([]byte) ([]byte, error)) {
	out, err := fn(readBytes("input", hostInput))
	if err != nil {
		reject(err)
		return
	}
	code := hostResolve(ptr(out), uint32(len(out)))
	runtime.KeepAlive(out)
	if err := check("resolve", code); err != nil {
		reject(err) // too large: say so rather than trap, a retry would not help
	}
}

func reject(err error) {
	b, _ := json.Marshal(abi.Error{Message: err.Error()})
	must("reject", hostReject(ptr(b), uint32(len(b))))
	runtime.KeepAlive(b)
}
