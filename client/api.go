package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/reprise-wasm/reprise/wire"
)

// The API's JSON shapes are package wire's; the client's names for them
// are aliases, so a value of one is a value of the other.

// Function is a deployed function's latest version.
type Function = wire.Function

// Value is a promise's param or value: bytes (base64 in JSON) and headers.
type Value = wire.Value

// Promise states, as the API spells them.
const (
	Pending          = wire.Pending
	Resolved         = wire.Resolved
	Rejected         = wire.Rejected
	RejectedCanceled = wire.RejectedCanceled
	RejectedTimedout = wire.RejectedTimedout
)

// Promise is a durable promise; every execution is one, with the
// execution's id.
type Promise = wire.Promise

// Execution is the record of one run of a function for a promise.
type Execution = wire.Execution

// ExecutionInfo is GET /v1/executions/{id}: the execution's promise and
// its record.
type ExecutionInfo = wire.ExecutionView

// Entry is one journaled host call of an execution attempt.
type Entry = wire.Entry

// Deploy uploads wasm as a new version of function name; entry "" is the
// default export ("run").
func (c *Client) Deploy(ctx context.Context, name string, wasm []byte, entry string) (Function, error) {
	var q url.Values
	if entry != "" {
		q = url.Values{"entry": {entry}}
	}
	var f Function
	_, err := c.call(ctx, request{method: http.MethodPut, path: "/functions/" + seg(name), query: q,
		body: wasm, ctype: "application/wasm"}, &f)
	return f, err
}

// Functions lists the latest version of every deployed function.
func (c *Client) Functions(ctx context.Context) ([]Function, error) {
	var out wire.FunctionList
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/functions"}, &out)
	return out.Functions, err
}

// Function returns the latest version of function name; a 404 *Error if
// none is deployed.
func (c *Client) Function(ctx context.Context, name string) (Function, error) {
	var f Function
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/functions/" + seg(name)}, &f)
	return f, err
}

// DeleteFunction unbinds name; executions already started carry on.
func (c *Client) DeleteFunction(ctx context.Context, name string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/functions/" + seg(name)}, nil)
	return err
}

// InvokeOptions are an invocation's options.
type InvokeOptions struct {
	// ID is the execution's id; invoking an id again returns that
	// execution. "" lets the server pick one (or derive it from
	// IdempotencyKey).
	ID string
	// IdempotencyKey, when ID is empty, makes the same key invoke the same
	// execution of this function.
	IdempotencyKey string
	// Wait, when positive, waits up to this long (capped by the server)
	// for the execution to settle.
	Wait time.Duration
	// Timeout, when positive, rejects the execution as timed out if it has
	// not finished within it.
	Timeout time.Duration
}

// Invocation is an invoke's answer.
type Invocation struct {
	ID string
	// State is PENDING when the execution had not settled (no Wait, or
	// not within it); otherwise its final state, and Value is its value's
	// bytes, whatever the outcome.
	State string
	Value []byte
}

// Settled reports whether the execution had settled when the server answered.
func (i Invocation) Settled() bool { return i.State != "" && i.State != Pending }

// maxValue bounds a settled invocation's value read from the answer.
const maxValue = 64 << 20

// Invoke starts an execution of the latest version of function name with
// input.
func (c *Client) Invoke(ctx context.Context, name string, input []byte, opts InvokeOptions) (Invocation, error) {
	q := url.Values{}
	if opts.ID != "" {
		q.Set("id", opts.ID)
	}
	if opts.Wait > 0 {
		q.Set("wait", opts.Wait.String())
	}
	if opts.Timeout > 0 {
		q.Set("timeout", opts.Timeout.String())
	}
	h := http.Header{}
	if opts.IdempotencyKey != "" {
		h.Set(wire.HeaderIdempotencyKey, opts.IdempotencyKey)
	}
	if input == nil {
		input = []byte{}
	}
	resp, cancel, err := c.do(ctx, request{method: http.MethodPost, path: "/functions/" + seg(name) + "/invoke",
		query: q, header: h, body: input, ctype: "application/json", extra: max(opts.Wait, 0)})
	if err != nil {
		return Invocation{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	inv := Invocation{ID: resp.Header.Get(wire.HeaderExecutionID), State: resp.Header.Get(wire.HeaderState)}
	if resp.StatusCode == http.StatusAccepted {
		var body wire.Invocation
		if err := decodeLimited(resp.Body, maxErrorBody, &body); err != nil {
			return inv, err
		}
		inv.ID, inv.State = body.ID, body.State
		return inv, nil
	}
	// 200: the body is the value's bytes.
	if inv.Value, err = io.ReadAll(io.LimitReader(resp.Body, maxValue)); err != nil {
		return inv, err
	}
	return inv, nil
}

// Execution returns execution id's promise and record; a 404 *Error when
// id is no execution (it may still be a promise).
func (c *Client) Execution(ctx context.Context, id string) (ExecutionInfo, error) {
	return c.ExecutionWait(ctx, id, 0)
}

// ExecutionWait is Execution that, while the execution is pending, waits
// up to wait (capped by the server) for it to settle: a long poll. The
// answer's state says whether it did.
func (c *Client) ExecutionWait(ctx context.Context, id string, wait time.Duration) (ExecutionInfo, error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.String()}}
	}
	var out ExecutionInfo
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/executions/" + seg(id), query: q, extra: max(wait, 0)}, &out)
	return out, err
}

// History returns the journal of an attempt of execution id; attempt 0 is
// the current one.
func (c *Client) History(ctx context.Context, id string, attempt uint32) ([]Entry, error) {
	var q url.Values
	if attempt > 0 {
		q = url.Values{"attempt": {strconv.FormatUint(uint64(attempt), 10)}}
	}
	var out wire.History
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/executions/" + seg(id) + "/history", query: q}, &out)
	return out.Entries, err
}

// Query selects promises (or executions) a page at a time.
type Query struct {
	ID     string            // an id glob, "*" for any; "" is any
	State  string            // pending, resolved or rejected (any rejected state); "" is any
	Tags   map[string]string // each tag must have this value
	Limit  int               // page size, at most 100; 0 is the server's default
	Cursor string            // from the previous page
}

func (q Query) values() url.Values {
	v := url.Values{}
	if q.ID != "" {
		v.Set("id", q.ID)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	for k, t := range q.Tags {
		v.Set("tags["+k+"]", t)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return v
}

// Executions returns a page of the promises of executions matching q, of
// function when it is not "", and the cursor of the next page ("" at the
// end). A page may hold fewer than q.Limit before the end.
func (c *Client) Executions(ctx context.Context, function string, q Query) ([]Promise, string, error) {
	v := q.values()
	if function != "" {
		v.Set("function", function)
	}
	var out wire.ExecutionList
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/executions", query: v}, &out)
	return out.Executions, out.Cursor, err
}

// Cancel rejects execution id as canceled and stops it; a 403 *Error when
// it is already settled (its Code says how: 40301 resolved, 40302
// rejected, 40303 canceled, 40304 timed out).
func (c *Client) Cancel(ctx context.Context, id string) (Promise, error) {
	var p Promise
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/executions/" + seg(id) + "/cancel"}, &p)
	return p, err
}

// Promise returns promise id (an execution's too).
func (c *Client) Promise(ctx context.Context, id string) (Promise, error) {
	var p Promise
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/promises/" + seg(id)}, &p)
	return p, err
}

// Promises returns a page of the promises matching q and the cursor of the
// next page ("" at the end).
func (c *Client) Promises(ctx context.Context, q Query) ([]Promise, string, error) {
	var out wire.PromiseList
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/promises", query: q.values()}, &out)
	return out.Promises, out.Cursor, err
}

// CreatePromise is a promise to create.
type CreatePromise struct {
	ID      string
	Timeout int64 // Unix ms
	Param   Value
	Tags    map[string]string
	// IdempotencyKey makes creating the same id again with the same key
	// return the promise instead of a 409.
	IdempotencyKey string
	// Strict refuses to return an existing promise that is settled.
	Strict bool
}

// CreatePromise creates a promise that someone settles later; created is
// false when an idempotent repeat found it.
func (c *Client) CreatePromise(ctx context.Context, cp CreatePromise) (p Promise, created bool, err error) {
	body, err := jsonBody(wire.CreatePromise{ID: &cp.ID, Timeout: &cp.Timeout, Param: &cp.Param, Tags: cp.Tags})
	if err != nil {
		return p, false, err
	}
	status, err := c.call(ctx, request{method: http.MethodPost, path: "/promises", body: body,
		ctype: "application/json", header: keyHeaders(cp.IdempotencyKey, cp.Strict)}, &p)
	return p, status == http.StatusCreated, err
}

// Settle is how to settle a promise.
type Settle struct {
	State string // RESOLVED, REJECTED or REJECTED_CANCELED
	Value Value
	// IdempotencyKey makes settling again the same way a no-op (200)
	// rather than a 403.
	IdempotencyKey string
	// Strict refuses a settle of a promise that timed out.
	Strict bool
}

// Settle settles promise id; changed is false for an idempotent repeat. A
// 403 *Error means it is settled otherwise (Code says how: 40301 resolved,
// 40302 rejected, 40303 canceled, 40304 timed out).
func (c *Client) Settle(ctx context.Context, id string, s Settle) (p Promise, changed bool, err error) {
	body, err := jsonBody(wire.SettlePromise{State: s.State, Value: &s.Value})
	if err != nil {
		return p, false, err
	}
	status, err := c.call(ctx, request{method: http.MethodPatch, path: "/promises/" + seg(id), body: body,
		ctype: "application/json", header: keyHeaders(s.IdempotencyKey, s.Strict)}, &p)
	return p, status == http.StatusCreated, err
}

func keyHeaders(key string, strict bool) http.Header {
	h := http.Header{}
	if key != "" {
		h.Set(wire.HeaderIdempotencyKey, key)
	}
	if strict {
		h.Set(wire.HeaderStrict, "true")
	}
	return h
}

// Ready reports whether the server is ready (GET /readyz: it answers 503
// while it recovers unfinished executions after a start).
func (c *Client) Ready(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/readyz", nil)
	if err != nil {
		return false, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, unwrapURLError(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
