//go:build wasip1

// Crash is a long parent for the crash test: local steps, children invoked
// in waves of 10, a durable sleep halfway through the waves, more steps.
//
// Input: {"children": C, "steps": M, "sleep_ms": S, "record_url": URL, "child": "recorder"}.
// Child i (1..C) gets {"i": i, "record_url": URL} and returns i*i.
// Output: {"sum": C(C+1)(2C+1)/6, "children": C}.
package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	Children  int    `json:"children"`
	Steps     int    `json:"steps"`
	SleepMS   int64  `json:"sleep_ms"`
	RecordURL string `json:"record_url"`
	Child     string `json:"child"`
}

type childArgs struct {
	I         int    `json:"i"`
	RecordURL string `json:"record_url"`
}

type output struct {
	Sum      int `json:"sum"`
	Children int `json:"children"`
}

const waveSize = 10

func init() {
	reprise.Handle(func(in input) (output, error) {
		if in.Child == "" {
			in.Child = "recorder"
		}
		steps(in.Steps / 2)

		out := output{Children: in.Children}
		waves := (in.Children + waveSize - 1) / waveSize
		for k := range waves {
			if k == waves/2 {
				sleep(in.SleepMS)
			}
			var ps []*reprise.Promise
			for i := k*waveSize + 1; i <= min((k+1)*waveSize, in.Children); i++ {
				ps = append(ps, reprise.Invoke(in.Child, childArgs{I: i, RecordURL: in.RecordURL}))
			}
			vals, err := reprise.All(ps...)
			if err != nil {
				return out, fmt.Errorf("wave %d: %w", k+1, err)
			}
			for _, v := range vals {
				var n int
				if err := json.Unmarshal(v, &n); err != nil {
					return out, fmt.Errorf("wave %d: %w", k+1, err)
				}
				out.Sum += n
			}
			reprise.Logf("wave %d done", k+1)
		}
		if waves == 0 {
			sleep(in.SleepMS)
		}

		steps(in.Steps - in.Steps/2)
		return out, nil
	})
}

func steps(n int) {
	for range n {
		reprise.Now()
	}
}

func sleep(ms int64) {
	if ms > 0 {
		reprise.Sleep(time.Duration(ms) * time.Millisecond)
	}
}

func main() {}
