package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/wire"
)

// The promise routes follow PROMISE-API.md (Resonate's durable promise API)
// exactly; the store implements its rules (idempotency keys, strict,
// timeouts read as timed out), the handlers map outcomes to statuses.

// jsonLimit is the body limit of a JSON request carrying one payload:
// base64 grows it by 4/3, and headers and tags need room too.
// The payload itself is then checked against the tenant's limit.
func jsonLimit(r *http.Request) int64 {
	n := tenantOf(r).Limits.PayloadSize
	if n <= 0 {
		return 0
	}
	return n*4/3 + 64<<10
}

func (s *Server) createPromise(w http.ResponseWriter, r *http.Request, h Host) {
	var b wire.CreatePromise
	if err := decodeJSON(w, r, jsonLimit(r), &b); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := parseCreate(b, r.Header)
	if err == nil {
		err = checkPayload(r, "param (data, headers, tags and idempotency key)", valueSize(c.Param, c.Tags, c.IdempotencyKey))
	}
	if err == nil {
		err = s.admit(w, r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, created, err := h.CreatePromise(r.Context(), c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writePromise(w, status, p)
}

func (s *Server) getPromise(w http.ResponseWriter, r *http.Request, h Host) {
	p, err := h.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePromise(w, http.StatusOK, p)
}

func (s *Server) settlePromise(w http.ResponseWriter, r *http.Request, h Host) {
	var b wire.SettlePromise
	if err := decodeJSON(w, r, jsonLimit(r), &b); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := parseSettle(r.PathValue("id"), b, r.Header)
	if err == nil {
		err = checkPayload(r, "value (data, headers and idempotency key)", valueSize(st.Value, nil, st.IdempotencyKey))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := h.Settle(r.Context(), st)
	if errors.Is(err, store.ErrForbidden) {
		// Name the state it has in the code (40301…40304).
		p, gerr := h.Get(r.Context(), st.ID)
		if gerr == nil {
			err = forbidden(p, err)
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK // an idempotent repeat, or a non-strict settle of a timed-out promise
	if res.Changed {
		status = http.StatusCreated
	}
	writePromise(w, status, res.Promise)
}

func (s *Server) searchPromises(w http.ResponseWriter, r *http.Request, h Host) {
	q, err := parseSearch(r.URL.Query())
	if err == nil && r.URL.Query().Has("function") {
		err = badRequest("unknown query parameter %q", "function")
	}
	if err == nil {
		err = s.admitSearch(w, r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, cursor, err := h.Search(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := wire.PromiseList{Promises: make([]wire.Promise, 0, len(page)), Cursor: cursor}
	now := time.Now().UnixMilli()
	for _, p := range page {
		out.Promises = append(out.Promises, promiseToWire(p.Effective(now)))
	}
	writeJSON(w, http.StatusOK, out)
}

// writePromise writes p as a read now shows it: the store already applies
// timeouts on reads, Effective again is harmless and covers any Host.
func writePromise(w http.ResponseWriter, status int, p store.Promise) {
	writeJSON(w, status, promiseToWire(p.Effective(time.Now().UnixMilli())))
}
