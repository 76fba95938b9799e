//go:build wasip1

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
