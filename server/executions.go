package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
	"github.com/reprise-wasm/reprise/wire"
)

// Headers of an invoke's answer.
const (
	HeaderState = wire.HeaderState       // the execution's state, e.g. RESOLVED
	HeaderID    = wire.HeaderExecutionID // its id
)

// invoke starts an execution of {name} with the body as input.
//
// Without ?wait, or when the execution has not settled within it: 202 with
// {"id","state"} and a Location. Settled in time: 200 with the value's bytes
// as the body whatever the outcome, and Reprise-State saying which (RESOLVED,
// REJECTED, …): the call succeeded, the function's outcome is data. A
// client that wants the promise object reads GET /v1/executions/{id}.
//
// The id is ?id= when given, else derived from the Idempotency-Key header
// (so the same key invokes the same execution), else new. ?timeout= rejects
// the execution as timed out if it has not finished by then.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, h Host) {
	name := r.PathValue("name")
	if err := checkName("function name", name); err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	wait, err := parseDuration("wait", q.Get("wait"), s.cfg.MaxWait)
	if err != nil {
		writeError(w, r, err)
		return
	}
	timeout, err := parseDuration("timeout", q.Get("timeout"), 1<<63-1)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id := q.Get("id")
	if id != "" {
		if err := checkName("execution id", id); err != nil {
			writeError(w, r, err)
			return
		}
	} else if key := r.Header.Get(wire.HeaderIdempotencyKey); key != "" {
		id = idempotentID(name, key)
	}
	input, err := readBody(w, r, tenantOf(r).Limits.PayloadSize, tenant.LimitPayloadSize)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.admit(w, r); err != nil {
		writeError(w, r, err)
		return
	}
	// With a wait, one call starts and awaits: a guest that finishes without
	// a durable call is then written start and result in one commit.
	opts := host.InvokeOptions{ID: id, Timeout: timeout}
	var p store.Promise
	if wait > 0 {
		p, err = h.InvokeWait(r.Context(), name, input, opts, wait)
	} else {
		p.ID, err = h.Invoke(r.Context(), name, input, opts)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.metrics.invoked()
	id = p.ID
	w.Header().Set("Location", "/v1/executions/"+id)
	w.Header().Set(HeaderID, id)
	if p.State.Settled() {
		writeResult(w, p)
		return
	}
	w.Header().Set(HeaderState, store.Pending.String())
	writeJSON(w, http.StatusAccepted, wire.Invocation{ID: id, State: store.Pending.String()})
}

// idempotentID derives an execution id from a function and a client's
// idempotency key: keys may hold characters ids may not, and the same key
// for two functions must not collide.
func idempotentID(function, key string) string {
	sum := sha256.Sum256([]byte(function + "\x00" + key))
	return "idem-" + hex.EncodeToString(sum[:16])
}

// writeResult writes a settled execution's value.
func writeResult(w http.ResponseWriter, p store.Promise) {
	w.Header().Set(HeaderState, p.State.String())
	ct := "application/octet-stream"
	if json.Valid(p.Value.Data) {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(p.Value.Data)))
	w.WriteHeader(http.StatusOK)
	w.Write(p.Value.Data)
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request, h Host) {
	id := r.PathValue("id")
	e, err := h.Execution(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wait, err := parseDuration("wait", r.URL.Query().Get("wait"), s.cfg.MaxWait)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := h.Get(r.Context(), id)
	if err == nil && wait > 0 && p.Effective(time.Now().UnixMilli()).State == store.Pending {
		// Long-poll: answer when it settles or the wait ends, whichever
		// comes first; the answer says which by its state.
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		if settled, aerr := h.Await(ctx, id); aerr == nil {
			p = settled
		} else if !errors.Is(aerr, context.DeadlineExceeded) {
			err = aerr
		}
		cancel()
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ExecutionView{
		Promise: promiseToWire(p.Effective(time.Now().UnixMilli())), Execution: executionToWire(e)})
}

// history returns an attempt's journal: ?attempt=N, default the current.
func (s *Server) history(w http.ResponseWriter, r *http.Request, h Host) {
	var attempt uint64
	if v := r.URL.Query().Get("attempt"); v != "" {
		var err error
		if attempt, err = strconv.ParseUint(v, 10, 32); err != nil {
			writeError(w, r, badRequest("attempt=%q: want a positive number", v))
			return
		}
	}
	es, err := h.Journal(r.Context(), r.PathValue("id"), uint32(attempt))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := wire.History{Entries: make([]wire.Entry, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, entryToWire(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// listExecutions searches the promises of executions: those tagged with a
// function. Without ?function= it filters a page of all promises, so a
// page may hold fewer than limit; follow the cursor until it is absent.
func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request, h Host) {
	q, err := parseSearch(r.URL.Query())
	if err == nil {
		err = s.admitSearch(w, r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if f := r.URL.Query().Get("function"); f != "" {
		if q.Tags == nil {
			q.Tags = map[string]string{}
		}
		q.Tags[host.TagFunction] = f
	}
	page, cursor, err := h.Search(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := wire.ExecutionList{Executions: make([]wire.Promise, 0, len(page)), Cursor: cursor}
	now := time.Now().UnixMilli()
	for _, p := range page {
		if _, ok := p.Tags[host.TagFunction]; ok {
			out.Executions = append(out.Executions, promiseToWire(p.Effective(now)))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// cancel rejects an execution as canceled and stops its guest.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, h Host) {
	id := r.PathValue("id")
	if _, err := h.Execution(r.Context(), id); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := h.Cancel(r.Context(), id)
	if errors.Is(err, store.ErrForbidden) {
		if p, gerr := h.Get(r.Context(), id); gerr == nil {
			err = forbidden(p, err)
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, promiseToWire(p))
}
