//go:build wasip1

// Fanout invokes a child function n times, lets the children run at once,
// and sums their results. Each child is a durable execution of its own: after
// a crash, finished children are not run again.
//
// Input: {"n":100,"child":"square"} → {"n":100,"sum":338350}.
//
// Run it with:
//
//	reprise run examples/wasm/fanout examples/wasm/square --input '{"n":100,"child":"square"}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
