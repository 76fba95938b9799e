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
		state, value := h.doHTTP(req)
		if h.ctx.Err() != nil {
			return // shutting down: recovery decides, as after a crash
		}
		_, err := h.Settle(h.ctx, store.Settle{ID: id, State: state, Value: store.Value{Data: value}, IdempotencyKey: "reprise:http"})
		if err != nil && h.ctx.Err() == nil {
			h.log.Error("record http response", "promise", id, "err", err)
		}
	}()
}

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
		return store.Rejected, errorValue(fmt.Sprintf("bad url %q: want an absolute http or https URL", req.URL), "")
	}
	if cfg.Allow != nil && !cfg.Allow(u.Hostname()) {
		return store.Rejected, errorValue(fmt.Sprintf("http to %s is not allowed for this function (not in the allowlist)", u.Hostname()), "")
	}
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
	client := *cfg.Client
	prev := client.CheckRedirect
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if cfg.Allow != nil && !cfg.Allow(r.URL.Hostname()) {
			return fmt.Errorf("redirect to %s is not allowed", r.URL.Hostname())
		}
		if prev != nil {
			return prev(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := client.Do(hr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return store.Rejected, errorValue(fmt.Sprintf("http %s %s: timed out after %s", method, req.URL, timeout), "")
		}
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: %v", method, req.URL, err), "")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(h.cfg.MaxPayload)+1))
	if err != nil {
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: reading the response: %v", method, req.URL, err), "")
	}
	if len(body) > h.cfg.MaxPayload {
		return store.Rejected, errorValue(fmt.Sprintf("http %s %s: the response body is over the %d-byte limit", method, req.URL, h.cfg.MaxPayload), "")
	}
	out := abi.HTTPResponse{Status: resp.StatusCode, Headers: map[string]string{}, Body: body}
	for k := range resp.Header {
		out.Headers[k] = resp.Header.Get(k)
	}
	v, _ := json.Marshal(out)
	return store.Resolved, v
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
