//go:build wasip1

// Square is the child of the fanout example: it returns its input squared.
//
// Input: 7 → 49.
package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

func init() {
	reprise.Handle(func(x int) (int, error) { return x * x, nil })
}

func main() {}
