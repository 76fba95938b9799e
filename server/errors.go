package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/wire"
)

// Error codes of the error body {"error":{"code":NNNNN,"message":"..."}}.
// As in Resonate's API, the HTTP status is the code's first three digits
// (40304 → 403; PROMISE-API.md says "divided by 10" but its example is
// integer division by 100), so clients can branch on the finer code while
// proxies see the status.
const (
	codeBadRequest       = 40000
	codeInvalidName      = 40001
	codeInvalidModule    = 40002
	codeAlreadyResolved  = 40301
	codeAlreadyRejected  = 40302
	codeAlreadyCanceled  = 40303
	codeAlreadyTimedout  = 40304
	codeNotFound         = 40400
	codeAlreadyExists    = 40900
	codeTooLarge         = 41300
	codeHeaderTooLarge   = 43100
	codeUnsupportedMedia = 41500
	codeInternal         = 50000
	codeUnavailable      = 50300
	codeStorageFull      = 50700
)

// ErrUnavailable is what a Tenants implementation wraps when a tenant's
// host cannot serve now (its store failed to open); the API answers 503
// with the error's text, so that text must not carry internal details.
var ErrUnavailable = errors.New("unavailable")

// httpError is an error with its API code: the error body's wire.Error.
type httpError wire.Error

func (e *httpError) Error() string { return e.Message }
func (e *httpError) status() int   { return e.Code / 100 }

// apiError makes an httpError; code 0 means status×100.
func apiError(status, code int, format string, args ...any) *httpError {
	if code == 0 {
		code = status * 100
	}
	return &httpError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// badRequest is a 400 for a malformed request.
func badRequest(format string, args ...any) *httpError {
	return apiError(http.StatusBadRequest, codeBadRequest, format, args...)
}

// toHTTP maps an error of the host or store to its API error.
func toHTTP(err error) *httpError {
	var he *httpError
	var mbe *http.MaxBytesError
	var be *budget.ExceededError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &be):
		// Never fits: 413, make it smaller. Does not fit now: 429, retry.
		status, code := http.StatusTooManyRequests, codeRateLimited
		if be.Never {
			status, code = http.StatusRequestEntityTooLarge, codeTooLarge
		}
		e := apiError(status, code, "%v", err)
		e.Limit = be.Limit
		return e
	case errors.As(err, &mbe):
		return apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "request body over the limit of %d bytes", mbe.Limit)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, host.ErrUnknownFunction):
		return apiError(http.StatusNotFound, codeNotFound, "%v", err)
	case errors.Is(err, store.ErrConflict):
		return apiError(http.StatusConflict, codeAlreadyExists, "%v", err)
	case errors.Is(err, store.ErrForbidden):
		return apiError(http.StatusForbidden, 0, "%v", err)
	case errors.As(err, new(*host.LimitError)):
		// A work limit (pending executions): nothing was accepted.
		var le *host.LimitError
		errors.As(err, &le)
		e := apiError(http.StatusTooManyRequests, codeRateLimited, "%v", err)
		e.Limit = le.Limit
		return e
	case errors.Is(err, host.ErrTooLarge):
		return apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "%v", err)
	case errors.Is(err, host.ErrBadName):
		return apiError(http.StatusBadRequest, codeInvalidName, "%v", err)
	case errors.Is(err, host.ErrReserved):
		return badRequest("%v", err)
	case errors.Is(err, host.ErrInvalidModule):
		return apiError(http.StatusBadRequest, codeInvalidModule, "%v", err)
	case errors.Is(err, store.ErrInvalid):
		return badRequest("%v", err)
	case errors.As(err, new(*store.StorageFullError)):
		// 507 naming the limit: the tenant's quota or the server's disk
		// reserve. Reads still work, and writes resume when space returns.
		var sf *store.StorageFullError
		errors.As(err, &sf)
		e := apiError(http.StatusInsufficientStorage, codeStorageFull, "%v", sf)
		e.Limit = sf.Limit
		return e
	case errors.Is(err, ErrUnavailable):
		return apiError(http.StatusServiceUnavailable, codeUnavailable, "%v", err)
	case errors.Is(err, host.ErrClosed), errors.Is(err, store.ErrClosed):
		return apiError(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apiError(http.StatusServiceUnavailable, codeUnavailable, "request canceled: %v", err)
	}
	// The details (paths, store errors) are for the server's log, which
	// writeError fills; the client learns only that it was not its fault.
	return apiError(http.StatusInternalServerError, codeInternal, "internal error: the server log has the details")
}

// forbidden is the 403 for settling promise p, already settled otherwise;
// the code says how it was settled.
func forbidden(p store.Promise, err error) *httpError {
	code := 0
	switch p.State {
	case store.Resolved:
		code = codeAlreadyResolved
	case store.Rejected:
		code = codeAlreadyRejected
	case store.RejectedCanceled:
		code = codeAlreadyCanceled
	case store.RejectedTimedout:
		code = codeAlreadyTimedout
	}
	return apiError(http.StatusForbidden, code, "%v", err)
}

// writeError writes err as the API's JSON error. Server-side failures are
// logged; the client's mistakes are not (they are in its answer).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := toHTTP(err)
	if he.status() == http.StatusInternalServerError { // 503s (starting, stopping) are expected
		slogFrom(r).Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if he.status() == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// A budget full now (memory, compiles) frees as work finishes.
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, he.status(), wire.ErrorBody{Error: (*wire.Error)(he)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are written: a bug
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":50000,"message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
