//go:build wasip1

// Httpcall makes an outbound HTTP request (the function must be granted
// outbound HTTP to the URL). The response is journaled: on replay the
// request is not sent again.
//
// Input: {"url":"http://example.com/"} → {"status":200,"bytes":1256,"body":"<!doctype html>..."}.
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
