//go:build wasip1

package main

import "github.com/reprise-wasm/reprise/guest-sdk/go/reprise"

type input struct {
	URL string `json:"url"`
}

type output struct {
	Status int    `json:"status"`
	Bytes  int    `json:"bytes"`
	Body   string `json:"body"` // the first 200 bytes
}

func init() {
	reprise.Handle(func(in input) (output, error) {
		resp, err := reprise.HTTP(reprise.Request{Method: "GET", URL: in.URL}).Response()
		if err != nil {
			return output{}, err
		}
		return output{
			Status: resp.Status,
			Bytes:  len(resp.Body),
			Body:   string(resp.Body[:min(len(resp.Body), 200)]),
		}, nil
	})
}

func main() {}
