//go:build wasip1

// Echo returns its input bytes unchanged (binary-safe, no JSON).
package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

func init() {
	reprise.HandleBytes(func(in []byte) ([]byte, error) { return in, nil })
}

func main() {}
