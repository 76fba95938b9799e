package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/reprise-wasm/reprise/wire"
)

// TestJSON pins the bytes of every shape: the server's answers and the
// client's requests, as they were when each side declared its own types.
func TestJSON(t *testing.T) {
	full := wire.Promise{ID: "p1", State: wire.Resolved,
		Param: wire.Value{Headers: map[string]string{"a": "b"}, Data: []byte("in")},
		Value: wire.Value{Headers: map[string]string{"c": "d"}, Data: []byte{0, 1, 2}}, Timeout: 99,
		IdempotencyKeyForCreate: "kc", IdempotencyKeyForComplete: "kx",
		Tags: map[string]string{"t": "u"}, CreatedOn: 5, CompletedOn: 7}
	pending := wire.Promise{ID: "p2", State: wire.Pending, Timeout: 1}
	const pendingJSON = `{"id":"p2","state":"PENDING","param":{},"value":{},"timeout":1,"createdOn":0}`
	id, timeout := "p", int64(5)
	for _, tc := range []struct {
		what string
		v    any
		want string
	}{
		{"promise", full, `{"id":"p1","state":"RESOLVED","param":{"headers":{"a":"b"},"data":"aW4="},"value":{"headers":{"c":"d"},"data":"AAEC"},"timeout":99,"idempotencyKeyForCreate":"kc","idempotencyKeyForComplete":"kx","tags":{"t":"u"},"createdOn":5,"completedOn":7}`},
		{"pending promise", pending, pendingJSON},
		{"function", wire.Function{Name: "f", Version: 3, Module: "abc", Entry: "run", CreatedOn: 11},
			`{"name":"f","version":3,"module":"abc","entry":"run","createdOn":11}`},
		{"execution", wire.Execution{ID: "e", Function: "f", Module: "m", Entry: "run", Parent: "par", Attempt: 2, AttemptStart: 12, LastError: "boom"},
			`{"id":"e","function":"f","module":"m","entry":"run","parent":"par","attempt":2,"attemptStart":12,"lastError":"boom"}`},
		{"execution without parent or error", wire.Execution{ID: "e", Function: "f", Module: "m", Entry: "run", Attempt: 1},
			`{"id":"e","function":"f","module":"m","entry":"run","attempt":1,"attemptStart":0}`},
		{"entry", wire.Entry{Seq: 1, Op: "now", Digest: "dd", Child: "c.1", Outcome: []byte("o"), Time: 4},
			`{"seq":1,"op":"now","digest":"dd","child":"c.1","outcome":"bw==","time":4}`},
		{"entry without child or outcome", wire.Entry{Seq: 2, Op: "sleep"}, `{"seq":2,"op":"sleep","digest":"","time":0}`},
		{"execution view", wire.ExecutionView{Promise: pending, Execution: wire.Execution{ID: "e"}},
			`{"promise":` + pendingJSON + `,"execution":{"id":"e","function":"","module":"","entry":"","attempt":0,"attemptStart":0}}`},
		{"promise page", wire.PromiseList{Promises: []wire.Promise{pending}, Cursor: "c"}, `{"promises":[` + pendingJSON + `],"cursor":"c"}`},
		{"last promise page", wire.PromiseList{Promises: []wire.Promise{}}, `{"promises":[]}`},
		{"last execution page", wire.ExecutionList{Executions: []wire.Promise{}}, `{"executions":[]}`},
		{"functions", wire.FunctionList{Functions: []wire.Function{}}, `{"functions":[]}`},
		{"history", wire.History{Entries: []wire.Entry{}}, `{"entries":[]}`},
		{"error naming a limit", wire.ErrorBody{Error: &wire.Error{Code: 42900, Message: "m", Limit: "rate"}},
			`{"error":{"code":42900,"message":"m","limit":"rate"}}`},
		{"error", wire.ErrorBody{Error: &wire.Error{Code: 40000, Message: "m"}}, `{"error":{"code":40000,"message":"m"}}`},
		{"invocation", wire.Invocation{ID: "x", State: wire.Pending}, `{"id":"x","state":"PENDING"}`},
		// The client always sends a param and a value, possibly empty.
		{"create", wire.CreatePromise{ID: &id, Timeout: &timeout, Param: &wire.Value{}}, `{"id":"p","timeout":5,"param":{}}`},
		{"create with all", wire.CreatePromise{ID: &id, Timeout: &timeout,
			Param: &wire.Value{Headers: map[string]string{"a": "b"}, Data: []byte("x")}, Tags: map[string]string{"t": "u"}},
			`{"id":"p","timeout":5,"param":{"headers":{"a":"b"},"data":"eA=="},"tags":{"t":"u"}}`},
		{"create, least", wire.CreatePromise{ID: &id, Timeout: &timeout}, `{"id":"p","timeout":5}`},
		{"settle", wire.SettlePromise{State: wire.Resolved, Value: &wire.Value{}}, `{"state":"RESOLVED","value":{}}`},
		{"settle with a value", wire.SettlePromise{State: wire.Rejected, Value: &wire.Value{Data: []byte("e")}}, `{"state":"REJECTED","value":{"data":"ZQ=="}}`},
		{"settle, least", wire.SettlePromise{State: wire.Resolved}, `{"state":"RESOLVED"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s:\n got  %s (%v)\n want %s", tc.what, b, err, tc.want)
		}
	}
}

func TestAbsentIsNotZeroInRequests(t *testing.T) {
	var c wire.CreatePromise
	if err := json.Unmarshal([]byte(`{"timeout":0}`), &c); err != nil || c.ID != nil || c.Timeout == nil || *c.Timeout != 0 || c.Param != nil {
		t.Fatalf("%+v, %v", c, err)
	}
	var s wire.SettlePromise
	if err := json.Unmarshal([]byte(`{"state":"RESOLVED"}`), &s); err != nil || s.Value != nil {
		t.Fatalf("%+v, %v", s, err)
	}
}
