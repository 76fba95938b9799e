//go:build wasip1

// Hello is the smallest Reprise function: typed JSON in, typed JSON out.
//
// Input: {"name":"Ada"} → {"greeting":"Hello, Ada!"}. With no name: "world".
//
// Run it with:
//
//	reprise run examples/wasm/hello --input '{"name":"Ada"}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
