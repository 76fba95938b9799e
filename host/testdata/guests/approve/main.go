//go:build wasip1

// Approve creates an external promise and reports how it settled, without
// failing, so tests can see resolutions, rejections and timeouts alike.
//
// Input: {"timeout_ms": T} (0: no timeout) → {"state": "resolved"|"rejected"|"canceled"|"timedout",
// "value": <the settled value as a string>}.
package main

import (
	"errors"
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	TimeoutMS int64 `json:"timeout_ms"`
}

type output struct {
	State string `json:"state"`
	Value string `json:"value"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		v, err := reprise.NewPromise(time.Duration(in.TimeoutMS) * time.Millisecond).Await()
		var e *reprise.Error
		switch {
		case errors.As(err, &e):
			return output{State: e.State.String(), Value: string(e.Raw)}, nil
		case err != nil:
			return output{}, err
		}
		return output{State: reprise.Resolved.String(), Value: string(v)}, nil
	})
}

func main() {}
