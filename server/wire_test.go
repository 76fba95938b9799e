package server

import (
	"reflect"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// What the server writes, a client reads back as it was.
func TestWireMappingsRoundTrip(t *testing.T) {
	p := store.Promise{ID: "p1", State: store.RejectedCanceled,
		Param: store.Value{Headers: map[string]string{"a": "b"}, Data: []byte("in")},
		Value: store.Value{Data: []byte(`{"error":"canceled"}`)}, Timeout: 99,
		IdempotencyKeyForCreate: "kc", IdempotencyKeyForComplete: "kx",
		Tags: map[string]string{"t": "u"}, CreatedOn: 5, CompletedOn: 7}
	for _, st := range []store.State{store.Pending, store.Resolved, store.Rejected, store.RejectedCanceled, store.RejectedTimedout} {
		p.State = st
		if got, err := PromiseFromWire(promiseToWire(p)); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("promise %s: %+v, %v", st, got, err)
		}
	}
	if _, err := PromiseFromWire(promiseToWire(store.Promise{ID: "x", State: 99})); err == nil {
		t.Error("an unknown state was read")
	}
	f := store.Function{Name: "f", Version: 3, Module: "abc", Entry: "run", CreatedOn: 11}
	if got := FunctionFromWire(functionToWire(f)); got != f {
		t.Errorf("function: %+v", got)
	}
	e := store.Execution{ID: "e", Function: "f", Module: "m", Entry: "run", Parent: "par", Attempt: 2,
		AttemptStart: 12_000_000, LastError: "boom"} // ms on the wire
	if got := ExecutionFromWire(executionToWire(e)); !reflect.DeepEqual(got, e) {
		t.Errorf("execution: %+v", got)
	}
	for op := store.OpInvoke; op <= store.OpRandom; op++ {
		en := store.Entry{Seq: 4, Op: op, Digest: [16]byte{1, 2, 0xff}, Child: "e.4", Outcome: []byte("o"), Time: 13_000_000}
		if got := EntryFromWire(entryToWire(en)); !reflect.DeepEqual(got, en) {
			t.Errorf("entry %s: %+v", op, got)
		}
	}
}
