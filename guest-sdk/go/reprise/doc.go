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
// # The API
//
// A function registers its handler with [Handle] (typed JSON in and out) or
// [HandleBytes], served by the module's "run" export; [Serve] lets a module
// export more entry points, each deployable as a function of its own.
// Inside a handler, [Invoke] starts a child execution, [After] a durable
// timer, [NewPromise] a promise that someone outside settles (its
// [Promise.ID] is what they settle), and [HTTP] an outbound request
// ([Request], read back with [Promise.Response]). Each returns a *[Promise]
// at once; [Promise.Await] or [AwaitAs] blocks until it settles, [All] waits
// for several and [Any] for the first of several; [Sleep] awaits a timer
// at once. A promise that did not resolve comes back as an *[Error] with its
// [State] and the rejection's message (and the guest stack after a trap).
// [Now], [Random] and [RandomUint64] are the journaled clock and randomness,
// [ID] the execution's own id, and [Log], [Logf] and [LogAt] write to the
// host's log, once (not again on replay).
//
// Host errors that reveal a bug (a bad handle or argument, setting a result
// twice) panic, which traps the attempt; payloads over the host's size limit
// and per-execution limits are returned as errors wrapping ErrTooLarge or
// ErrLimit.
//
// # Concurrency
//
// A wasip1 module has one thread, and the host calls its entry point once
// per execution attempt, on a fresh instance. The package's state — the
// registered handler, the execution's id once read, each Promise's settled
// value — takes no locks: it is meant to be used from the handler's
// goroutine. For concurrency, start several promises and combine them with
// All and Any rather than use goroutines: Await blocks the whole module
// until the host answers, so other goroutines do not run meanwhile, and
// host calls made from several goroutines would come in an order set by
// the Go scheduler, which replay must reproduce exactly.
package reprise
