//go:build wasip1

package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

type input struct {
	Scenario  string `json:"scenario"`
	Name      string `json:"name"`
	N         int    `json:"n"`
	Self      string `json:"self"`
	AMS       int64  `json:"a_ms"`
	BMS       int64  `json:"b_ms"`
	MS        int64  `json:"ms"`
	TimeoutMS int64  `json:"timeout_ms"`
	URL       string `json:"url"`
	Message   string `json:"message"`
	Children  int    `json:"children"`
	Steps     int    `json:"steps"`
	SleepMS   int64  `json:"sleep_ms"`
	RecordURL string `json:"record_url"`
	I         int    `json:"i"`
}

type square struct {
	Scenario string `json:"scenario"`
	N        int    `json:"n"`
}

type record struct {
	Scenario  string `json:"scenario"`
	I         int    `json:"i"`
	RecordURL string `json:"record_url"`
}

func init() {
	reprise.HandleBytes(func(raw []byte) ([]byte, error) {
		var in input
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		out, err := scenario(in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

//go:wasmexport echo
func echo() { reprise.Serve(func(in []byte) ([]byte, error) { return in, nil }) }

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func scenario(in input) (any, error) {
	switch in.Scenario {
	case "hello":
		if in.Name == "" {
			in.Name = "world"
		}
		return map[string]string{"greeting": "Hello, " + in.Name + "!"}, nil
	case "square":
		return in.N * in.N, nil
	case "steps":
		for range in.N {
			reprise.Now()
		}
		return map[string]int{"steps": in.N}, nil
	case "fanout":
		ps := make([]*reprise.Promise, in.N)
		for i := range ps {
			ps[i] = reprise.Invoke(in.Self, square{"square", i + 1})
		}
		sum, err := sumOf(ps)
		return map[string]int{"sum": sum}, err
	case "race":
		a, b := reprise.After(ms(in.AMS)), reprise.After(ms(in.BMS))
		i, _, err := reprise.Any(a, b)
		return map[string]int{"winner": i}, err
	case "sleep":
		t0 := reprise.Now()
		reprise.Sleep(ms(in.MS))
		return map[string]int64{"slept_ms": reprise.Now().Sub(t0).Milliseconds()}, nil
	case "external":
		p := reprise.NewPromise(ms(in.TimeoutMS))
		reprise.Log("waiting for " + p.ID())
		v, err := p.Await()
		state := "resolved"
		var rej *reprise.Error
		if errors.As(err, &rej) {
			state, v = rej.State.String(), rej.Raw
		} else if err != nil {
			return nil, err
		}
		return map[string]string{"state": state, "value": string(v)}, nil
	case "http":
		resp, err := reprise.HTTP(reprise.Request{Method: "GET", URL: in.URL}).Response()
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": resp.Status, "body": string(resp.Body)}, nil
	case "fail":
		return nil, errors.New(in.Message)
	case "trap":
		panic("conformance trap")
	case "crash":
		return crash(in)
	case "record":
		var tok [8]byte
		reprise.Random(tok[:])
		body, _ := json.Marshal(map[string]string{"id": reprise.ID(), "token": hex.EncodeToString(tok[:])})
		resp, err := reprise.HTTP(reprise.Request{Method: "POST", URL: in.RecordURL,
			Header: map[string]string{"content-type": "application/json"}, Body: body, Idempotent: true}).Response()
		if err != nil {
			return nil, err
		}
		if resp.Status/100 != 2 {
			return nil, fmt.Errorf("record: http status %d", resp.Status)
		}
		return in.I * in.I, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", in.Scenario)
}

func sumOf(ps []*reprise.Promise) (int, error) {
	vals, err := reprise.All(ps...)
	if err != nil {
		return 0, err
	}
	sum := 0
	for _, v := range vals {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

func crash(in input) (any, error) {
	for range in.Steps / 2 {
		reprise.Now()
	}
	sum := 0
	waves := (in.Children + 9) / 10
	for k := range waves {
		if k == waves/2 {
			reprise.Sleep(ms(in.SleepMS))
		}
		var ps []*reprise.Promise
		for i := 10*k + 1; i <= min(10*k+10, in.Children); i++ {
			ps = append(ps, reprise.Invoke(in.Self, record{"record", i, in.RecordURL}))
		}
		s, err := sumOf(ps)
		if err != nil {
			return nil, fmt.Errorf("wave %d: %w", k+1, err)
		}
		sum += s
		reprise.Logf("wave %d done", k+1)
	}
	for range in.Steps / 2 {
		reprise.Now()
	}
	return map[string]int{"sum": sum, "children": in.Children}, nil
}

func main() {}
