//go:build wasip1

// The Go conformance guest: every scenario of ../CONTRACT.md, with the Go SDK
// (package github.com/reprise-wasm/reprise/guest-sdk/go/reprise). Its "run"
// export dispatches on the input's "scenario" field and makes exactly the
// host calls the contract lists for it, in that order; its "echo" export
// resolves with its input unchanged. The conformance tests build it for
// wasip1 as a reactor and compare its results and journals with the other
// languages' guests, so a change here must keep the journals the contract
// describes.
package main
