//go:build wasip1

// Misbehave fails in the way its input asks, for the host's sandbox and
// retry tests. Input: {"mode": M, "size": N, "ok": B} where M is
//
//	ok        returns "ok"
//	panic     panics with "boom" (a trap)
//	loop      spins forever without host calls (must hit the step time limit)
//	grow      allocates 16 MiB at a time until the memory cap stops it
//	big       returns a JSON string of exactly N bytes (N >= 2)
//	badhandle awaits handle 99999 with the raw import and panics with what the host said
//	reject    rejects with "nope"
//	flaky     panics unless ok is true, then returns "ok"
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/guest-sdk/go/reprise"
)

// rawAwait bypasses the SDK, which never passes a handle the host did not give.
//
//go:wasmimport reprise_v1 await
func rawAwait(handle int32) int32

type input struct {
	Mode string `json:"mode"`
	Size int    `json:"size"`
	OK   bool   `json:"ok"`
}

var (
	sink int      // keeps the busy loop from being optimized away
	hold [][]byte // keeps grown memory reachable
)

func init() {
	reprise.HandleBytes(func(b []byte) ([]byte, error) {
		var in input
		if err := json.Unmarshal(b, &in); err != nil {
			return nil, err
		}
		ok := []byte(`"ok"`)
		switch in.Mode {
		case "ok":
			return ok, nil
		case "panic":
			panic("boom")
		case "loop":
			for i := 0; ; i++ {
				sink = i
			}
		case "grow":
			for {
				b := make([]byte, 16<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1 // touch every page
				}
				hold = append(hold, b)
			}
		case "big":
			if in.Size < 2 {
				return bytes.Repeat([]byte("0"), in.Size), nil
			}
			out := bytes.Repeat([]byte("x"), in.Size)
			out[0], out[len(out)-1] = '"', '"'
			return out, nil
		case "badhandle":
			code := rawAwait(99999)
			if code == -1 {
				panic("await(99999): the host said bad handle")
			}
			panic(fmt.Sprintf("await(99999) returned %d, not the bad handle code", code))
		case "reject":
			return nil, errors.New("nope")
		case "flaky":
			if !in.OK {
				panic("flaky: not ok")
			}
			return ok, nil
		}
		return nil, fmt.Errorf("unknown mode %q", in.Mode)
	})
}

func main() {}
