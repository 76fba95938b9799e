//go:build wasip1

// Noop returns the JSON 1 at once, ignoring its input: the cheapest possible
// function, for latency benchmarks.
package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

var one = []byte("1")

func init() {
	reprise.HandleBytes(func([]byte) ([]byte, error) { return one, nil })
}

func main() {}
