//go:build wasip1

// Httpcall makes an outbound HTTP request (the function must be granted
// outbound HTTP to the URL). The response is journaled: on replay the
// request is not sent again.
//
// Input: {"url":"http://example.com/"} → {"status":200,"bytes":1256,"body":"<!doctype html>..."}.
//
// Run it with:
//
//	reprise --allow-http example.com run examples/wasm/httpcall --input '{"url":"http://example.com/"}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
