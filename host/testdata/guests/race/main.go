//go:build wasip1

// Race races two durable timers with Any and returns the index of the one
// that fired first. Input: {"a_ms": A, "b_ms": B} → 0 if A fires first, else 1.
package main

import (
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	AMS int64 `json:"a_ms"`
	BMS int64 `json:"b_ms"`
}

func init() {
	reprise.Handle(func(in input) (int, error) {
		i, _, err := reprise.Any(
			reprise.After(time.Duration(in.AMS)*time.Millisecond),
			reprise.After(time.Duration(in.BMS)*time.Millisecond),
		)
		return i, err
	})
}

func main() {}
