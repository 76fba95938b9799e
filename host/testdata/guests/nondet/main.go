//go:build wasip1

// Nondet is deliberately non-deterministic: an unjournaled test import
// decides whether its first journaled call is a sleep or an invoke. The host
// test flips the flag between the first run and the replay and expects a
// non-determinism error naming the step. Returns "done".
package main

import (
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

//go:wasmimport reprise_test flag
func flag() int32

func init() {
	reprise.Handle(func(any) (string, error) {
		if flag() == 0 {
			reprise.Sleep(300 * time.Millisecond) // long enough to be pending when awaited, so the run goes cold
		} else if _, err := reprise.Invoke("echo", "x").Await(); err != nil {
			return "", err
		}
		return "done", nil
	})
}

func main() {}
