//go:build wasip1

package main

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	Request string `json:"request"`
}

type output struct {
	Approved bool            `json:"approved"`
	Request  string          `json:"request,omitempty"`
	By       json.RawMessage `json:"by,omitempty"`
	Reason   string          `json:"reason,omitempty"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		p := reprise.NewPromise(24 * time.Hour)
		reprise.Logf("waiting for approval: resolve %s", p.ID())

		v, err := p.Await()
		var rejected *reprise.Error
		switch {
		case errors.As(err, &rejected):
			return output{Reason: rejected.Error()}, nil
		case err != nil:
			return output{}, err
		}
		if len(v) > 0 && !json.Valid(v) {
			v, _ = json.Marshal(string(v)) // settled with plain text
		}
		return output{Approved: true, Request: in.Request, By: v}, nil
	})
}

func main() {}
