//go:build wasip1

// Steps makes many cheap journaled calls around one durable sleep, to
// measure replay speed. Input: {"steps": N, "sleep_ms": S} → {"steps": 2N}.
package main

import (
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	Steps   int   `json:"steps"`
	SleepMS int64 `json:"sleep_ms"`
}

type output struct {
	Steps int `json:"steps"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		for range in.Steps {
			reprise.Now()
		}
		if in.SleepMS > 0 {
			reprise.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		}
		for range in.Steps {
			reprise.Now()
		}
		return output{Steps: 2 * in.Steps}, nil
	})
}

func main() {}
