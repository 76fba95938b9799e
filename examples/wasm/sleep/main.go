//go:build wasip1

// Sleep sleeps durably: if the host restarts during the sleep, the function
// wakes up when the sleep was due, not after a fresh one. Now is journaled,
// so the times it reports survive replay too.
//
// Input: {"ms":1500} → {"slept_ms":1500} (or a little more).
package main

import (
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	MS int64 `json:"ms"`
}

type output struct {
	SleptMS int64 `json:"slept_ms"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		start := reprise.Now()
		reprise.Sleep(time.Duration(in.MS) * time.Millisecond)
		return output{SleptMS: reprise.Now().Sub(start).Milliseconds()}, nil
	})
}

func main() {}
