//go:build wasip1

package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

type input struct {
	Name string `json:"name"`
}

type output struct {
	Greeting string `json:"greeting"`
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		if in.Name == "" {
			in.Name = "world"
		}
		return output{Greeting: "Hello, " + in.Name + "!"}, nil
	})
}

func main() {}
