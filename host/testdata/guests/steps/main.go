//go:build wasip1

// Steps makes many cheap journaled calls around one wait, to measure replay
// speed. Input: {"steps": N, "sleep_ms": S, "wait": W} → {"steps": 2N}.
// It waits by a durable sleep of S ms, or, when W is true, for an external
// promise (its id is "<execution id>.<N+1>") that someone settles.
package main

import (
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	Steps   int   `json:"steps"`
	SleepMS int64 `json:"sleep_ms"`
	Wait    bool  `json:"wait"`
}

type output struct {
	Steps int `json:"steps"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		for range in.Steps {
			reprise.Now()
		}
		switch {
		case in.Wait:
			if _, err := reprise.NewPromise(0).Await(); err != nil {
				return output{}, err
			}
		case in.SleepMS > 0:
			reprise.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		}
		if !in.Wait {
			for range in.Steps {
				reprise.Now()
			}
		}
		return output{Steps: 2 * in.Steps}, nil
	})
}

func main() {}
