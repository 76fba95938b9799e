package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/names"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
	"github.com/reprise-wasm/reprise/wire"
)

// The API's JSON is package wire's; this file maps it to and from the
// store's types, and reads and checks requests.

func promiseToWire(p store.Promise) wire.Promise {
	return wire.Promise{
		ID: p.ID, State: p.State.String(),
		Param:   wire.Value{Headers: p.Param.Headers, Data: p.Param.Data},
		Value:   wire.Value{Headers: p.Value.Headers, Data: p.Value.Data},
		Timeout: p.Timeout, Tags: p.Tags,
		IdempotencyKeyForCreate:   p.IdempotencyKeyForCreate,
		IdempotencyKeyForComplete: p.IdempotencyKeyForComplete,
		CreatedOn:                 p.CreatedOn, CompletedOn: p.CompletedOn,
	}
}

func functionToWire(f store.Function) wire.Function {
	return wire.Function{Name: f.Name, Version: f.Version, Module: f.Module, Entry: f.Entry, CreatedOn: f.CreatedOn}
}

// executionToWire gives the attempt's start in ms, as every time on the wire.
func executionToWire(e store.Execution) wire.Execution {
	return wire.Execution{ID: e.ID, Function: e.Function, Module: e.Module, Entry: e.Entry, Parent: e.Parent,
		Attempt: e.Attempt, AttemptStart: e.AttemptStart / 1e6, LastError: e.LastError}
}

// entryToWire gives the entry's time in ms, as every time on the wire.
func entryToWire(e store.Entry) wire.Entry {
	return wire.Entry{Seq: e.Seq, Op: e.Op.String(), Digest: hex.EncodeToString(e.Digest[:]),
		Child: e.Child, Outcome: e.Outcome, Time: e.Time / 1e6}
}

// The inverse mappings, exported for a client that works in the store's
// types, as the command line's --server backend does: each undoes its
// ...ToWire, to the ms for times the wire gives in ms.

// PromiseFromWire is the store's promise for p; an unknown state is an error.
func PromiseFromWire(p wire.Promise) (store.Promise, error) {
	st, err := store.ParseState(p.State)
	if err != nil {
		return store.Promise{}, fmt.Errorf("promise %s: %w", p.ID, err)
	}
	return store.Promise{ID: p.ID, State: st,
		Param:   store.Value{Headers: p.Param.Headers, Data: p.Param.Data},
		Value:   store.Value{Headers: p.Value.Headers, Data: p.Value.Data},
		Timeout: p.Timeout, Tags: p.Tags,
		IdempotencyKeyForCreate:   p.IdempotencyKeyForCreate,
		IdempotencyKeyForComplete: p.IdempotencyKeyForComplete,
		CreatedOn:                 p.CreatedOn, CompletedOn: p.CompletedOn,
	}, nil
}

// FunctionFromWire is the store's function for f.
func FunctionFromWire(f wire.Function) store.Function {
	return store.Function{Name: f.Name, Version: f.Version, Module: f.Module, Entry: f.Entry, CreatedOn: f.CreatedOn}
}

// ExecutionFromWire is the store's execution record for e.
func ExecutionFromWire(e wire.Execution) store.Execution {
	return store.Execution{ID: e.ID, Function: e.Function, Module: e.Module, Entry: e.Entry, Parent: e.Parent,
		Attempt: e.Attempt, AttemptStart: e.AttemptStart * 1e6, LastError: e.LastError}
}

// EntryFromWire is the store's journal entry for e. An op it does not know
// is 0, and a malformed digest is decoded as far as it goes: a client only
// shows entries, it never replays them.
func EntryFromWire(e wire.Entry) store.Entry {
	en := store.Entry{Seq: e.Seq, Op: parseOp(e.Op), Child: e.Child, Outcome: e.Outcome, Time: e.Time * 1e6}
	hex.Decode(en.Digest[:], []byte(e.Digest))
	return en
}

// parseOp reads an op's name as the API spells it (store.Op's String).
func parseOp(name string) store.Op {
	for o := store.Op(1); o < 64; o++ {
		if o.String() == name {
			return o
		}
	}
	return 0
}

// valueFromWire is a request's value; absent is empty.
func valueFromWire(v *wire.Value) store.Value {
	if v == nil {
		return store.Value{}
	}
	return store.Value{Headers: v.Headers, Data: v.Data}
}

// decodeJSON reads one JSON object into v: the body must be JSON (by
// Content-Type when one is given), under limit, and nothing may follow it.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := requireType(r, "application/json"); err != nil {
		return err
	}
	b, err := readBody(w, r, limit, tenant.LimitPayloadSize)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v)
}

// unmarshalStrict decodes exactly one JSON value with no unknown fields.
func unmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON body: data after the JSON value")
	}
	return nil
}

// requireType answers 415 unless the request's Content-Type is one of
// types. An absent Content-Type is accepted: curl -d sends a form type,
// but hand-written clients often send none.
func requireType(r *http.Request, types ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, t := range types {
			if mt == t {
				return nil
			}
		}
	}
	return apiError(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
		"Content-Type %q is not accepted here: send %s", ct, strings.Join(types, " or "))
}

// parseCreate validates a create body (after decoding) into a store.Create.
func parseCreate(b wire.CreatePromise, h http.Header) (store.Create, error) {
	strict, err := parseStrict(h)
	if err != nil {
		return store.Create{}, err
	}
	if b.ID == nil || *b.ID == "" {
		return store.Create{}, badRequest("missing field id")
	}
	if err := checkName("promise id", *b.ID); err != nil {
		return store.Create{}, err
	}
	if b.Timeout == nil {
		return store.Create{}, badRequest("missing field timeout (Unix ms)")
	}
	if *b.Timeout < 0 {
		return store.Create{}, badRequest("timeout %d is negative", *b.Timeout)
	}
	c := store.Create{ID: *b.ID, Timeout: *b.Timeout, Param: valueFromWire(b.Param), Tags: b.Tags,
		IdempotencyKey: h.Get(wire.HeaderIdempotencyKey), Strict: strict}
	// The host refuses these too; refusing here answers before the rate
	// limit spends a token on a request that cannot succeed.
	if err := host.CheckReserved(c); err != nil {
		return store.Create{}, badRequest("%v", err)
	}
	return c, nil
}

// parseSettle validates a settle body into a store.Settle for id.
func parseSettle(id string, b wire.SettlePromise, h http.Header) (store.Settle, error) {
	strict, err := parseStrict(h)
	if err != nil {
		return store.Settle{}, err
	}
	st, err := store.ParseState(strings.ToUpper(b.State))
	if err != nil || !(st == store.Resolved || st == store.Rejected || st == store.RejectedCanceled) {
		return store.Settle{}, badRequest("state %q: a promise is settled as RESOLVED, REJECTED or REJECTED_CANCELED", b.State)
	}
	key := h.Get(wire.HeaderIdempotencyKey)
	if err := host.CheckReservedKey(key); err != nil {
		return store.Settle{}, badRequest("%v", err)
	}
	return store.Settle{ID: id, State: st, Value: valueFromWire(b.Value),
		IdempotencyKey: key, Strict: strict}, nil
}

// parseStrict reads the strict header: true or false, absent is false.
func parseStrict(h http.Header) (bool, error) {
	switch v := strings.ToLower(h.Get(wire.HeaderStrict)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("header strict is %q: want true or false", v)
	}
}

// parseSearch reads the query of GET /promises (and GET /executions):
// id glob, state, tags[k]=v, limit, cursor.
func parseSearch(q map[string][]string) (store.Query, error) {
	var sq store.Query
	for k, vs := range q {
		if len(vs) != 1 {
			return sq, badRequest("query parameter %s is given %d times", k, len(vs))
		}
		v := vs[0]
		switch {
		case k == "id":
			sq.IDGlob = v
		case k == "state":
			switch strings.ToLower(v) {
			case "pending":
				sq.States = []store.State{store.Pending}
			case "resolved":
				sq.States = []store.State{store.Resolved}
			case "rejected":
				sq.States = []store.State{store.Rejected, store.RejectedCanceled, store.RejectedTimedout}
			default:
				return sq, badRequest("state=%q: want pending, resolved or rejected", v)
			}
		case k == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return sq, badRequest("limit=%q: want a number from 1 to 100", v)
			}
			sq.Limit = min(n, 100)
		case k == "cursor":
			sq.Cursor = v
		case strings.HasPrefix(k, "tags[") && strings.HasSuffix(k, "]") && len(k) > len("tags[]"):
			if sq.Tags == nil {
				sq.Tags = map[string]string{}
			}
			sq.Tags[k[len("tags["):len(k)-1]] = v
		case k == "function": // GET /executions only; the caller checks
		default:
			return sq, badRequest("unknown query parameter %q", k)
		}
	}
	if sq.IDGlob == "" {
		sq.IDGlob = "*"
	}
	return sq, nil
}

// parseDuration reads a query parameter ?param=DURATION, capped at max.
func parseDuration(param, v string, max time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badRequest("%s=%q: want a duration such as 5s or 500ms", param, v)
	}
	return min(d, max), nil
}

// checkName refuses what names.Check refuses (what could not be a path
// segment, a key or a log line). The host checks the same; checking here
// first gives a 400 that names the field.
func checkName(what, s string) error {
	var ne *names.Error
	if !errors.As(names.Check(s), &ne) {
		return nil
	}
	if s == "" || len(s) > names.MaxLen { // nothing, or too much, to quote
		return apiError(http.StatusBadRequest, codeInvalidName, "%s: %s", what, ne.Reason)
	}
	return apiError(http.StatusBadRequest, codeInvalidName, "%s %q: %s", what, s, ne.Reason)
}
