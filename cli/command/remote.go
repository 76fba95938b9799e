package command

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reprise-wasm/reprise/client"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/server"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
)

// remote is the backend of --server: a running `reprise serve`, over its
// HTTP API. It maps the API's answers back to the store's types and
// sentinel errors, so the commands print and exit the same as on a data
// directory.
type remote struct {
	c        *client.Client
	hasToken bool
}

func newRemote(url, token string) (*remote, error) {
	c, err := client.New(url, client.Options{Token: token, UserAgent: "reprise-cli"})
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	return &remote{c: c, hasToken: token != ""}, nil
}

// remoteError is a refusal by the server carrying the sentinel the local
// host or store would have returned, so commands branch on it unchanged.
type remoteError struct {
	sentinel error
	err      *client.Error
}

func (e *remoteError) Error() string   { return e.err.Message }
func (e *remoteError) Unwrap() []error { return []error{e.sentinel, e.err} }

// tokenHelp says how to fix a refused token; the token itself is never shown.
const tokenHelp = "set --token or REPRISE_TOKEN to a token from `reprise tenant create`"

// fail maps an error of the client to the command's error. notFound is the
// sentinel a 404 stands for here (store.ErrNotFound, or
// host.ErrUnknownFunction for an invoke).
func (r *remote) fail(ctx context.Context, err error, notFound error) error {
	if err == nil {
		return nil
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		if ctx.Err() != nil {
			return interrupted("interrupted; whatever the server accepted carries on there (`reprise ls` shows it)")
		}
		return &exitError{code: ExitFailed, err: err, msg: fmt.Sprintf(
			"cannot reach the server at %s (%v): is `reprise serve` running there? Check --server or REPRISE_SERVER", r.c.URL(), err)}
	}
	sentinel := store.ErrInvalid // any other 4xx: the request was wrong
	switch ce.Status {
	case http.StatusUnauthorized:
		msg := "the server refused the token: " + tokenHelp
		if !r.hasToken {
			msg = "the server refused the token (none was given): " + tokenHelp
		}
		return &exitError{code: ExitFailed, err: ce, msg: msg}
	case http.StatusTooManyRequests:
		return &exitError{code: ExitFailed, err: ce, msg: fmt.Sprintf(
			"the server at %s refused the request, a limit is reached: %s; try again later", r.c.URL(), ce.Message)}
	case http.StatusInsufficientStorage:
		return &exitError{code: ExitStorageFull, err: ce, msg: fmt.Sprintf(
			"the server at %s refused the write, its storage is full: %s", r.c.URL(), ce.Message)}
	case http.StatusNotFound:
		sentinel = notFound
	case http.StatusForbidden:
		sentinel = store.ErrForbidden
	case http.StatusConflict:
		sentinel = store.ErrConflict
	case http.StatusRequestEntityTooLarge:
		sentinel = host.ErrTooLarge
	case http.StatusBadRequest:
		switch ce.Code {
		case 40001:
			sentinel = host.ErrBadName
		case 40002:
			sentinel = host.ErrInvalidModule
		}
	default:
		if ce.Status >= 500 || ce.Status < 400 {
			return &exitError{code: ExitFailed, err: ce, msg: fmt.Sprintf("the server at %s failed: %s", r.c.URL(), ce)}
		}
	}
	return &remoteError{sentinel: sentinel, err: ce}
}

func (r *remote) Function(ctx context.Context, name string) (store.Function, error) {
	f, err := r.c.Function(ctx, name)
	return server.FunctionFromWire(f), r.fail(ctx, err, store.ErrNotFound)
}

func (r *remote) Functions(ctx context.Context) ([]store.Function, error) {
	fs, err := r.c.Functions(ctx)
	out := make([]store.Function, 0, len(fs))
	for _, f := range fs {
		out = append(out, server.FunctionFromWire(f))
	}
	return out, r.fail(ctx, err, store.ErrNotFound)
}

func (r *remote) Promise(ctx context.Context, id string) (store.Promise, error) {
	p, err := r.c.Promise(ctx, id)
	if err != nil {
		return store.Promise{}, r.fail(ctx, err, store.ErrNotFound)
	}
	return storePromise(p)
}

func (r *remote) Execution(ctx context.Context, id string) (store.Execution, error) {
	e, err := r.c.Execution(ctx, id)
	if err != nil {
		return store.Execution{}, r.fail(ctx, err, store.ErrNotFound)
	}
	return server.ExecutionFromWire(e.Execution), nil
}

func (r *remote) Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error) {
	es, err := r.c.History(ctx, id, attempt)
	if err != nil {
		return nil, r.fail(ctx, err, store.ErrNotFound)
	}
	out := make([]store.Entry, 0, len(es))
	for _, e := range es {
		out = append(out, server.EntryFromWire(e))
	}
	return out, nil
}

// Search maps q to GET /v1/promises. The API filters by pending, resolved
// or rejected (all three rejected states), so a narrower set of states is
// filtered here: such a page may hold fewer than q.Limit, which callers
// that follow the cursor do not mind.
func (r *remote) Search(ctx context.Context, q store.Query) ([]store.Promise, string, error) {
	cq := client.Query{ID: q.IDGlob, Tags: q.Tags, Limit: q.Limit, Cursor: q.Cursor}
	switch {
	case len(q.States) == 0:
	case allIn(q.States, store.Pending):
		cq.State = "pending"
	case allIn(q.States, store.Resolved):
		cq.State = "resolved"
	case allIn(q.States, store.Rejected, store.RejectedCanceled, store.RejectedTimedout):
		cq.State = "rejected"
	}
	ps, cursor, err := r.c.Promises(ctx, cq)
	// A long listing may pass the tenant's search rate: its pages wait
	// their turn rather than fail the command halfway.
	for retries := 0; isSearchRateLimited(err) && retries < 120; retries++ {
		select {
		case <-ctx.Done():
			return nil, "", r.fail(ctx, ctx.Err(), store.ErrNotFound)
		case <-time.After(time.Second):
		}
		ps, cursor, err = r.c.Promises(ctx, cq)
	}
	if err != nil {
		return nil, "", r.fail(ctx, err, store.ErrNotFound)
	}
	out := make([]store.Promise, 0, len(ps))
	for _, p := range ps {
		sp, err := storePromise(p)
		if err != nil {
			return nil, "", err
		}
		if len(q.States) == 0 || slices.Contains(q.States, sp.State) {
			out = append(out, sp)
		}
	}
	return out, cursor, nil
}

func allIn(states []store.State, in ...store.State) bool {
	for _, s := range states {
		if !slices.Contains(in, s) {
			return false
		}
	}
	return true
}

func (r *remote) Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error) {
	f, err := r.c.Deploy(ctx, name, wasm, entry)
	return server.FunctionFromWire(f), r.fail(ctx, err, store.ErrNotFound)
}

// Invoke starts an execution on the server.
func (r *remote) Invoke(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (string, error) {
	inv, err := r.c.Invoke(ctx, name, input, client.InvokeOptions{ID: opts.ID, Timeout: opts.Timeout})
	if err != nil {
		return "", r.fail(ctx, err, host.ErrUnknownFunction)
	}
	return inv.ID, nil
}

// InvokeWait invokes with ?wait, where the server runs host.InvokeWait,
// and long-polls the execution if it has not settled by then.
func (r *remote) InvokeWait(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (store.Promise, error) {
	inv, err := r.c.Invoke(ctx, name, input, client.InvokeOptions{ID: opts.ID, Timeout: opts.Timeout,
		Wait: heldFor(opts, awaitPoll)})
	if err != nil {
		if ctx.Err() != nil {
			return store.Promise{}, ctx.Err()
		}
		return store.Promise{}, r.fail(ctx, err, host.ErrUnknownFunction)
	}
	if !inv.Settled() {
		return r.await(ctx, inv.ID)
	}
	// A settled invocation answers with the value's bytes; its state and
	// id come in headers.
	st, err := store.ParseState(inv.State)
	if err != nil {
		return store.Promise{}, fmt.Errorf("the server answered execution %s: %w", inv.ID, err)
	}
	return store.Promise{ID: inv.ID, State: st, Value: store.Value{Data: inv.Value}}, nil
}

// awaitPoll is how long each long poll of a waiting command asks the
// server to hold; the command keeps asking until the execution settles.
const awaitPoll = 30 * time.Second

// await long-polls the execution until it settles.
func (r *remote) await(ctx context.Context, id string) (store.Promise, error) {
	for {
		e, err := r.c.ExecutionWait(ctx, id, awaitPoll)
		if err != nil {
			if ctx.Err() != nil {
				return store.Promise{}, ctx.Err()
			}
			return store.Promise{}, r.fail(ctx, err, store.ErrNotFound)
		}
		if e.Promise.State != client.Pending {
			return storePromise(e.Promise)
		}
	}
}

func (r *remote) Settle(ctx context.Context, s store.Settle) (store.Promise, error) {
	p, _, err := r.c.Settle(ctx, s.ID, client.Settle{State: s.State.String(),
		Value: client.Value{Headers: s.Value.Headers, Data: s.Value.Data}, IdempotencyKey: s.IdempotencyKey, Strict: s.Strict})
	if err != nil {
		return store.Promise{}, r.fail(ctx, err, store.ErrNotFound)
	}
	return storePromise(p)
}

// Cancel cancels an execution through its cancel route; an id that is no
// execution is settled as a promise, canceled, with the value the host
// gives a canceled execution.
func (r *remote) Cancel(ctx context.Context, id string) (store.Promise, error) {
	p, err := r.c.Cancel(ctx, id)
	if client.IsNotFound(err) {
		p, _, err = r.c.Settle(ctx, id, client.Settle{State: client.RejectedCanceled,
			Value: client.Value{Data: []byte(`{"error":"canceled"}`)}})
	}
	if err != nil {
		return store.Promise{}, r.fail(ctx, err, store.ErrNotFound)
	}
	return storePromise(p)
}

// Drive has nothing to do: the server runs executions itself.
func (r *remote) Drive(context.Context, ...string) error { return nil }

func (r *remote) Close() error { return nil }

var _ backend = (*remote)(nil)

// storePromise reads an answer's promise back into the store's type, by
// the server's own inverse of how it wrote it.
func storePromise(p client.Promise) (store.Promise, error) {
	sp, err := server.PromiseFromWire(p)
	if err != nil {
		return store.Promise{}, fmt.Errorf("the server answered %w", err)
	}
	return sp, nil
}

// isSearchRateLimited reports whether err is the server's 429 for the
// tenant's search_rate limit.
func isSearchRateLimited(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusTooManyRequests && strings.Contains(ce.Message, tenant.LimitSearchRate)
}
