package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/store"
)

const interruptedMsg = "interrupted: the host stopped after this request may have been sent and before its response was recorded; it is not sent again because it is not marked idempotent"

// claimHTTP marks promise id as being sent by this process; false when it
// already is.
func (h *Host) claimHTTP(id string) bool {
	h.httpMu.Lock()
	defer h.httpMu.Unlock()
	if h.inflight[id] {
		return false
	}
	h.inflight[id] = true
	return true
}

func (h *Host) doneHTTP(id string) {
	h.httpMu.Lock()
	delete(h.inflight, id)
	h.httpMu.Unlock()
}

// sendHTTP sends a request whose intent is durable, then settles its promise
// with the response (the outcome). Failures become rejections the guest can
// handle, never traps.
func (h *Host) sendHTTP(id string, req []byte) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.doneHTTP(id)
		if h.httpSlots != nil {
			// Held until the outcome is recorded: its body is held as long.
			select {
			case h.httpSlots <- struct{}{}:
				defer func() { <-h.httpSlots }()
			case <-h.ctx.Done():
				return // not sent: recovery decides, as after a crash
			}
		}
		state, value := h.doHTTP(req)
		h.recordHTTP(id, state, value)
	}()
}

// recordHTTP settles http promise id with its outcome, and keeps trying
// until it is recorded or the host closes: the execution awaiting it has no
// other way forward, so a failed write must not leave it pending for ever.
// A value the host refuses as too large becomes a rejection saying so; a
// failing store is retried with backoff; at shutdown, recovery decides, as
// after a crash.
func (h *Host) recordHTTP(id string, state store.State, value []byte) {
	s := store.Settle{ID: id, State: state, Value: store.Value{Data: value}, IdempotencyKey: "reprise:http"}
	for wait := recordRetry; h.ctx.Err() == nil; wait = min(2*wait, recordRetryMax) {
		_, err := h.Settle(h.ctx, s)
		switch {
		case err == nil, errors.Is(err, store.ErrForbidden), errors.Is(err, store.ErrNotFound):
			return // recorded, or settled otherwise (canceled), or gone
		case h.ctx.Err() != nil:
			return
		case errors.Is(err, ErrTooLarge) && s.State == store.Rejected:
			s.Value.Data = nil // even the error is over a tiny limit: a rejection with no value still ends the wait
			continue
		case errors.Is(err, ErrTooLarge):
			s.State = store.Rejected
			s.Value.Data = errorValue(fmt.Sprintf("http: the response is too large to record: %d bytes as a value, over the payload size limit (payload_size) of %d bytes", len(s.Value.Data), h.cfg.MaxPayload), "")
			continue
		}
		h.log.Warn("record http response; retrying", "promise", id, "err", err, "retry_in", wait)
		if !h.wait(wait, nil) {
			return
		}
	}
}

// How soon a failed write of an outcome the host must record is tried
// again, doubling up to recordRetryMax.
const (
	recordRetry    = 50 * time.Millisecond
	recordRetryMax = 5 * time.Second
)

func (h *Host) doHTTP(raw []byte) (store.State, []byte) {
	var req abi.HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return store.Rejected, errorValue("bad http request: "+err.Error(), "")
	}
	cfg := h.cfg.HTTP
	if cfg == nil {
		return store.Rejected, errorValue("outbound http is not enabled for this function: the host grants it per host name", "")
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return store.Rejected, errorValue(fmt.Sprintf("bad url %q: want an absolute http or https URL", shown(req.URL)), "")
	}
	if cfg.Allow != nil && !cfg.Allow(u.Hostname()) {
		return store.Rejected, errorValue(fmt.Sprintf("http to %s is not allowed for this function (not in the allowlist)", u.Hostname()), "")
	}
	release, err := h.reserveHTTP()
	if err != nil {
		return store.Rejected, errorValue(fmt.Sprintf("http %s: %v", req.URL, err), "")
	}
	defer release()
	timeout := cfg.Timeout
	if req.TimeoutMillis > 0 {
		timeout = min(timeout, time.Duration(req.TimeoutMillis)*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return store.Rejected, errorValue("bad http request: "+err.Error(), "")
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	resp, err := cfg.client.Do(hr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return store.Rejected, errorValue(fmt.Sprintf("http %s %s: timed out after %s", method, shown(req.URL), timeout), "")
		}
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: %s", method, shown(req.URL), guestHTTPError(err)), "")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(h.cfg.MaxPayload)+1))
	if err != nil {
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: reading the response: %v", method, shown(req.URL), err), "")
	}
	if len(body) > h.cfg.MaxPayload {
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: the response body is over the %d-byte limit", method, shown(req.URL), h.cfg.MaxPayload), "")
	}
	out := abi.HTTPResponse{Status: resp.StatusCode, Headers: map[string]string{}, Body: body}
	for k := range resp.Header {
		out.Headers[k] = resp.Header.Get(k)
	}
	v, _ := json.Marshal(out)
	if len(v) > h.cfg.MaxPayload {
		// The body fit, but the value the guest reads (status, headers and
		// the body in base64) would not: the promise could never be settled
		// with it.
		return store.Rejected, errorValue(responseTooLarge(method, shown(req.URL), len(v), h.cfg.MaxPayload), "")
	}
	return store.Resolved, v
}

// shown is a URL as an error names it: cut short, so that the error of a
// request with a huge URL still fits in a promise's value.
func shown(u string) string {
	const most = 512
	if len(u) <= most {
		return u
	}
	return u[:most] + "..."
}

// responseTooLarge is the guest's error for a response too large to record.
func responseTooLarge(method, url string, n, limit int) string {
	return fmt.Sprintf("http %s %s: the response is too large: %d bytes as a value (status, headers and the body in base64), over the payload size limit (payload_size) of %d bytes; ask for less (a range or a smaller page), or have the limit raised", method, url, n, limit)
}

// guestHTTPError is the text of a failed request for the guest: what went
// wrong, without the server's own addresses (a net.OpError names the local
// address and port; a DNS error names the resolver).
func guestHTTPError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var refused *RefusedAddressError
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &de):
		return resolveError(de.Name, de).Error()
	case errors.As(err, &oe):
		if oe.Err != nil {
			return oe.Op + ": " + oe.Err.Error()
		}
		return oe.Op + " failed"
	}
	return err.Error()
}

// recoverHTTP handles a replayed http step whose outcome was never recorded
// (the host stopped while the request was out): an idempotent request is sent
// again; any other fails the step as interrupted, a value the guest sees.
func (r *run) recoverHTTP(hd *handle, idempotent bool) {
	if r.check(hd) || !r.h.claimHTTP(hd.id) {
		return // settled, or being sent by this process right now
	}
	if idempotent {
		r.h.sendHTTP(hd.id, hd.req)
		return
	}
	defer r.h.doneHTTP(hd.id)
	if _, err := r.h.Settle(r.ctx, store.Settle{ID: hd.id, State: store.Rejected, Value: store.Value{Data: errorValue(interruptedMsg, "")}, IdempotencyKey: "reprise:http"}); err != nil && !errors.Is(err, store.ErrForbidden) {
		r.unwind(err)
	}
}

// recoverHTTPIntents settles the outbound requests an earlier process left
// without an outcome (it stopped while they were out): idempotent ones are
// sent again, the others reject as interrupted. It runs in New, before this
// host starts anything of its own, so no request found here is in flight.
// Their awaiters, suspended on them, are woken by the settlement. (With a
// store shared by several hosts, intents would need leases of their own.)
func (h *Host) recoverHTTPIntents(ctx context.Context) error {
	q := store.Query{States: []store.State{store.Pending}, Tags: map[string]string{TagKind: "http"}}
	for {
		page, cursor, err := h.store.SearchPromises(ctx, q)
		if err != nil {
			return fmt.Errorf("recover http requests: %w", err)
		}
		for _, p := range page {
			var req abi.HTTPRequest
			if own, err := h.ownIntent(ctx, p); err != nil {
				return fmt.Errorf("recover http request %s: %w", p.ID, err)
			} else if !own {
				h.log.Warn("not sending a request no execution of this host made", "promise", p.ID)
				continue
			}
			if !h.claimHTTP(p.ID) {
				continue
			}
			if json.Unmarshal(p.Param.Data, &req) == nil && req.Idempotent {
				h.sendHTTP(p.ID, p.Param.Data)
				continue
			}
			_, err := h.Settle(ctx, store.Settle{ID: p.ID, State: store.Rejected, Value: store.Value{Data: errorValue(interruptedMsg, "")}, IdempotencyKey: "reprise:http"})
			h.doneHTTP(p.ID)
			if err != nil && !errors.Is(err, store.ErrForbidden) {
				return fmt.Errorf("recover http request %s: %w", p.ID, err)
			}
		}
		if cursor == "" {
			return nil
		}
		q.Cursor = cursor
	}
}
