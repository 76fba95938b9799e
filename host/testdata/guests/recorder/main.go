//go:build wasip1

// Recorder is the crash test's child. It draws a journaled random token and
// reports {"id": <its execution id>, "token": token} to record_url. A body
// that ran twice from scratch would report two tokens for one id; a replay
// reports none (the request is journaled) or, if the crash came mid-request,
// the same token again.
//
// Input: {"i": i, "record_url": URL} → i*i.
package main

import (
	"encoding/json"
	"fmt"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	I         int    `json:"i"`
	RecordURL string `json:"record_url"`
}

type record struct {
	ID    string `json:"id"`
	Token uint64 `json:"token"`
}

func init() {
	reprise.Handle(func(in input) (int, error) {
		body, err := json.Marshal(record{ID: reprise.ID(), Token: reprise.RandomUint64()})
		if err != nil {
			return 0, err
		}
		resp, err := reprise.HTTP(reprise.Request{
			Method:     "POST",
			URL:        in.RecordURL,
			Header:     map[string]string{"Content-Type": "application/json"},
			Body:       body,
			Idempotent: true, // the recorder dedups by (id, token)
		}).Response()
		if err != nil {
			return 0, err
		}
		if resp.Status/100 != 2 {
			return 0, fmt.Errorf("record: status %d", resp.Status)
		}
		return in.I * in.I, nil
	})
}

func main() {}
