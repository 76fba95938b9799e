//go:build wasip1

// Sleep sleeps durably: if the host restarts during the sleep, the function
// wakes up when the sleep was due, not after a fresh one. Now is journaled,
// so the times it reports survive replay too.
//
// Input: {"ms":1500} → {"slept_ms":1500} (or a little more).
//
// Run it with:
//
//	reprise run examples/wasm/sleep --input '{"ms":1500}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
