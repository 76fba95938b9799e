package client

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
	"strings"
	"time"

	"github.com/reprise-wasm/reprise/wire"
)

// DefaultTimeout bounds one request when Options.Timeout is zero. An invoke
// that waits for its result gets its wait on top.
const DefaultTimeout = 60 * time.Second

// Options configure a Client. Zero values are sensible defaults.
type Options struct {
	// Token, when set, is sent as "Authorization: Bearer TOKEN" on every
	// request. It never appears in errors.
	Token string
	// Timeout bounds each request (DefaultTimeout when zero); an invoke
	// with Wait gets Wait on top of it.
	Timeout time.Duration
	// HTTPClient sends the requests; nil is a client of its own with dial,
	// TLS and idle timeouts. Its Timeout, if any, applies as well.
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent; empty sends "reprise-client".
	UserAgent string
}

// Client speaks to one Reprise server. It holds no mutable state and is
// safe for concurrent use.
type Client struct {
	base    *url.URL // scheme://host[/prefix], no trailing slash
	token   string
	timeout time.Duration
	hc      *http.Client
	ua      string
}

// New returns a client of the server at baseURL, e.g. http://127.0.0.1:8420
// (a path prefix, for a server behind a proxy, is kept: /v1 is appended).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT or https://HOST[:PORT]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: want no query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if strings.ContainsAny(opts.Token, "\r\n") {
		return nil, errors.New("token: contains a line break")
	}
	c := &Client{base: u, token: opts.Token, timeout: opts.Timeout, hc: opts.HTTPClient, ua: opts.UserAgent}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport()}
	}
	if c.ua == "" {
		c.ua = "reprise-client"
	}
	return c, nil
}

// newTransport is http.DefaultTransport's settings with bounded dials:
// an unreachable server fails in seconds, not the OS's minutes.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// URL is the server's base URL as given to New (without credentials it
// may hold), for messages.
func (c *Client) URL() string { return c.base.Redacted() }

// Error is the server's refusal of a request: its HTTP status and the
// API's error body {"error":{"code":NNNNN,"message":"..."}}, whose code's
// first three digits are the status (40304 is 403: already timed out).
// An answer that is not in that format (from a proxy, say) gets the status
// times 100 as its code and the body's first line, or the status text, as
// its message.
type Error struct {
	Status  int    // HTTP status, e.g. 404
	Code    int    // API code, e.g. 40400
	Message string // the server's message
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// request is one API call.
type request struct {
	method string
	path   string // under /v1, escaped, e.g. "/functions/hello"
	query  url.Values
	header http.Header
	body   []byte
	ctype  string        // Content-Type of body
	extra  time.Duration // added to the timeout (an invoke's wait)
}

// do sends r and returns the answer of a 2xx status, or the error; the
// caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	// r.path is escaped already: build the URL as text, so an escaped
	// "/" in a name stays escaped.
	u, err := url.Parse(c.base.String() + "/v1" + r.path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout+r.extra)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, u.Redacted(), unwrapURLError(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		defer cancel()
		return nil, nil, readError(resp)
	}
	return resp, cancel, nil
}

// unwrapURLError drops *url.Error's own "Op URL:" prefix, which do's
// message already holds.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// readError reads a non-2xx answer into an *Error.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode}
	var body wire.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		return e
	}
	e.Code = resp.StatusCode * 100
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" || len(line) > 200 || strings.HasPrefix(line, "<") { // empty, long or HTML: say the status
		line = http.StatusText(resp.StatusCode)
		if line == "" {
			line = fmt.Sprintf("status %d", resp.StatusCode)
		}
	}
	e.Message = line
	return e
}

// maxJSONBody bounds a JSON answer: a page of 100 promises with 1 MiB
// payloads each, base64.
const maxJSONBody = 256 << 20

// call sends r and decodes a JSON answer into out (unless out is nil).
func (c *Client) call(ctx context.Context, r request, out any) (int, error) {
	resp, cancel, err := c.do(ctx, r)
	if err != nil {
		return 0, err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, nil
	}
	if err := decodeLimited(resp.Body, maxJSONBody, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	return resp.StatusCode, nil
}

// jsonBody marshals v for a request body.
func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// seg escapes one path segment (a name or id).
func seg(s string) string { return url.PathEscape(s) }

// decodeLimited decodes one JSON value of at most limit bytes from r.
func decodeLimited(r io.Reader, limit int64, out any) error {
	if err := json.NewDecoder(io.LimitReader(r, limit)).Decode(out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}
