//go:build wasip1

// Square is the child of the fanout example: it returns its input squared.
//
// Input: 7 → 49.
//
// Run it as the fanout example's child:
//
//	reprise run examples/wasm/fanout examples/wasm/square --input '{"n":100,"child":"square"}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
