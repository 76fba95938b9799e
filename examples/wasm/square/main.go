//go:build wasip1

package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

func init() {
	reprise.Handle(func(x int) (int, error) { return x * x, nil })
}

func main() {}
