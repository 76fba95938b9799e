//go:build wasip1

package reprise

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/reprise-wasm/reprise/abi"
)

// Request is an outbound HTTP request. The host sends it only if the
// function was granted outbound HTTP to that URL.
type Request struct {
	Method string // "GET" if empty
	URL    string
	Header map[string]string
	Body   []byte
	// Idempotent lets the host send the request again if it crashed before
	// recording the response. Otherwise such a request fails with an error
	// starting with "interrupted".
	Idempotent bool
	Timeout    time.Duration // 0: the host's default
}

// Response is the response to a Request.
type Response struct {
	Status int
	Header map[string]string
	Body   []byte
}

// HTTP sends req and returns its promise; read the response with
// (*Promise).Response. Any HTTP status is a response; the promise rejects
// only when none came (refused, timed out, not allowed).
func HTTP(req Request) *Promise {
	if req.Method == "" {
		req.Method = "GET"
	}
	b, err := json.Marshal(abi.HTTPRequest{
		Method:        req.Method,
		URL:           req.URL,
		Headers:       req.Header,
		Body:          req.Body,
		Idempotent:    req.Idempotent,
		TimeoutMillis: int64((req.Timeout + time.Millisecond - 1) / time.Millisecond),
	})
	if err != nil {
		return failed(fmt.Errorf("reprise: http: %w", err))
	}
	h := hostHTTP(ptr(b), uint32(len(b)))
	runtime.KeepAlive(b)
	return start("http", h)
}

// Response awaits a promise returned by HTTP and decodes its response.
func (p *Promise) Response() (*Response, error) {
	r, err := AwaitAs[abi.HTTPResponse](p)
	if err != nil {
		return nil, err
	}
	return &Response{Status: r.Status, Header: r.Headers, Body: r.Body}, nil
}
