//go:build wasip1

package main

import (
	"fmt"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	N     int    `json:"n"`
	Child string `json:"child"`
}

type output struct {
	N   int `json:"n"`
	Sum int `json:"sum"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		if in.Child == "" {
			in.Child = "square"
		}
		// Start every child before awaiting any, so they run concurrently.
		ps := make([]*reprise.Promise, in.N)
		for i := range ps {
			ps[i] = reprise.Invoke(in.Child, i+1)
		}
		out := output{N: in.N}
		for i, p := range ps {
			v, err := reprise.AwaitAs[int](p)
			if err != nil {
				return out, fmt.Errorf("child %d: %w", i+1, err)
			}
			out.Sum += v
		}
		return out, nil
	})
}

func main() {}
