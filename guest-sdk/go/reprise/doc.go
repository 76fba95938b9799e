//go:build wasip1

// Package reprise is the Go SDK for functions run by Reprise, a durable
// WebAssembly function host. A function is a Go program built as a WASI
// reactor; it registers a handler, and its calls to other functions, sleeps,
// HTTP requests and external promises read like async/await:
//
//	//go:build wasip1
//
//	package main
//
//	import (
//		"time"
//
//		"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
//	)
//
//	type order struct{ ID string }
//
//	func init() {
//		reprise.Handle(func(o order) (string, error) {
//			charge := reprise.Invoke("charge", o)   // starts a child execution
//			reprise.Sleep(time.Hour)                // durable: survives restarts
//			receipt, err := reprise.AwaitAs[string](charge)
//			if err != nil {
//				return "", err // rejects with {"error": "..."}
//			}
//			return "done: " + receipt, nil
//		})
//	}
//
//	func main() {} // not called in a reactor; register handlers in init
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o fn.wasm .
//
// Every promise and every call to Now and Random is journaled. When the host
// restarts, it runs the function again from the start and answers these calls
// from the journal, so the function arrives where it was and carries on. For
// that to work a function must be deterministic: given the same journaled
// answers it must make the same calls in the same order with the same
// arguments. Take real time and randomness from Now and Random: in the
// sandbox, time.Now and math/rand are virtual, deterministic per attempt.
//
// Start promises and combine them with All and Any for concurrency, rather
// than goroutines: Await blocks the whole module until the host answers, and
// the package is meant to be used from the handler's goroutine.
//
// Host errors that reveal a bug (a bad handle or argument, setting a result
// twice) panic, which traps the attempt; payloads over the host's size limit
// and per-execution limits are returned as errors wrapping ErrTooLarge or
// ErrLimit.
package reprise
