package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/client"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/server"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// newServer runs the real API on a real host and Badger store behind a
// loopback listener; wrap, if not nil, sees every request first.
func newServer(t *testing.T, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Config{Store: db, Logger: log,
		NewEngine: func(ctx context.Context, cfg engine.Config) (engine.Engine, error) { return wazeroengine.New(ctx, cfg) }})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	var handler http.Handler = server.New(h, server.Config{Logger: log})
	if wrap != nil {
		handler = wrap(handler)
	}
	ts := httptest.NewServer(handler)
	t.Cleanup(func() {
		ts.Close()
		h.Close(context.Background())
		db.Close()
	})
	return ts
}

func newClient(t *testing.T, url string, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const memCap = 65536 // guests read up to this many bytes of input or value

// echoModule resolves with its input.
func echoModule() []byte {
	m := wt.Module{Memory: 2}
	input := m.Import("reprise_v1", "input", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	resolve := m.Import("reprise_v1", "resolve", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func("run", nil, wt.Cat(wt.I32Const(0), wt.I32Const(0), wt.I32Const(memCap), wt.Call(input), wt.Call(resolve), []byte{0x1a}))
	return m.Bytes()
}

// waiterModule makes a promise someone outside settles (id <execution>.1),
// awaits it and resolves with its value.
func waiterModule() []byte {
	m := wt.Module{Memory: 2}
	promise := m.Import("reprise_v1", "promise", []byte{wt.I64}, []byte{wt.I32})
	await := m.Import("reprise_v1", "await", []byte{wt.I32}, []byte{wt.I32})
	value := m.Import("reprise_v1", "value", []byte{wt.I32, wt.I32, wt.I32}, []byte{wt.I32})
	resolve := m.Import("reprise_v1", "resolve", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func("run", []byte{wt.I32}, wt.Cat(
		wt.I64Const(0), wt.Call(promise), []byte{0x21, 0}, // local 0 = promise(0)
		[]byte{0x20, 0}, wt.Call(await), []byte{0x1a},
		wt.I32Const(0), []byte{0x20, 0}, wt.I32Const(0), wt.I32Const(memCap), wt.Call(value),
		wt.Call(resolve), []byte{0x1a}))
	return m.Bytes()
}

// apiError requires err to be a *client.Error with this status and code.
func apiError(t *testing.T, err error, status, code int) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	if e.Status != status || (code != 0 && e.Code != code) || e.Message == "" {
		t.Fatalf("error %+v, want status %d code %d with a message", e, status, code)
	}
	return e
}

func TestFunctionsDeployListGetDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, newServer(t, nil).URL, client.Options{})

	f, err := c.Deploy(ctx, "echo", echoModule(), "")
	if err != nil || f.Name != "echo" || f.Version != 1 || len(f.Module) != 64 || f.Entry != "run" || f.CreatedOn == 0 {
		t.Fatalf("Deploy = %+v, %v", f, err)
	}
	if f2, err := c.Deploy(ctx, "echo", waiterModule(), "run"); err != nil || f2.Version != 2 || f2.Module == f.Module {
		t.Fatalf("second Deploy = %+v, %v", f2, err)
	}
	fs, err := c.Functions(ctx)
	if err != nil || len(fs) != 1 || fs[0].Name != "echo" || fs[0].Version != 2 {
		t.Fatalf("Functions = %+v, %v", fs, err)
	}
	if g, err := c.Function(ctx, "echo"); err != nil || g != fs[0] {
		t.Fatalf("Function = %+v, %v", g, err)
	}
	if err := c.DeleteFunction(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Function(ctx, "echo")
	apiError(t, err, 404, 40400)
	if !client.IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}

	for _, tc := range []struct {
		name   string
		wasm   []byte
		status int
		code   int
	}{
		{"notwasm", []byte("just text"), 400, 40002},
		{"a/b", echoModule(), 400, 40001}, // the slash is escaped, so the server sees the name
		{"with space", echoModule(), 400, 40001},
	} {
		_, err := c.Deploy(ctx, tc.name, tc.wasm, "")
		apiError(t, err, tc.status, tc.code)
	}
}

func TestInvokeWaitIDsAndIdempotency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, newServer(t, nil).URL, client.Options{})
	if _, err := c.Deploy(ctx, "echo", echoModule(), ""); err != nil {
		t.Fatal(err)
	}

	inv, err := c.Invoke(ctx, "echo", []byte(`{"n":1}`), client.InvokeOptions{Wait: 10 * time.Second})
	if err != nil || !inv.Settled() || inv.State != client.Resolved || string(inv.Value) != `{"n":1}` || inv.ID == "" {
		t.Fatalf("Invoke with wait = %+v, %v", inv, err)
	}

	// An id: invoking it again is the same execution, whatever the input.
	inv, err = c.Invoke(ctx, "echo", []byte(`"a"`), client.InvokeOptions{ID: "job-1", Wait: 10 * time.Second})
	if err != nil || inv.ID != "job-1" || string(inv.Value) != `"a"` {
		t.Fatalf("Invoke job-1 = %+v, %v", inv, err)
	}
	inv, err = c.Invoke(ctx, "echo", []byte(`"b"`), client.InvokeOptions{ID: "job-1", Wait: 10 * time.Second})
	if err != nil || inv.ID != "job-1" || string(inv.Value) != `"a"` {
		t.Fatalf("Invoke job-1 again = %+v, %v", inv, err)
	}

	// Without wait: 202 and PENDING (or settled by the time it is read).
	inv, err = c.Invoke(ctx, "echo", []byte(`3`), client.InvokeOptions{})
	if err != nil || inv.ID == "" || inv.State != client.Pending || inv.Settled() {
		t.Fatalf("Invoke without wait = %+v, %v", inv, err)
	}
	info := awaitSettled(t, c, inv.ID)
	if info.Promise.State != client.Resolved || string(info.Promise.Value.Data) != "3" || string(info.Promise.Param.Data) != "3" ||
		info.Execution.Function != "echo" || info.Execution.Attempt != 1 || info.Execution.AttemptStart == 0 {
		t.Fatalf("Execution = %+v", info)
	}

	// An idempotency key: the same key, the same execution.
	k1, err := c.Invoke(ctx, "echo", []byte(`1`), client.InvokeOptions{IdempotencyKey: "order 7/1", Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := c.Invoke(ctx, "echo", []byte(`2`), client.InvokeOptions{IdempotencyKey: "order 7/1", Wait: 10 * time.Second})
	if err != nil || k2.ID != k1.ID || string(k2.Value) != "1" {
		t.Fatalf("same key: %+v then %+v, %v", k1, k2, err)
	}

	_, err = c.Invoke(ctx, "nosuch", nil, client.InvokeOptions{})
	if e := apiError(t, err, 404, 40400); !strings.Contains(e.Message, "nosuch") {
		t.Errorf("unknown function message %q", e.Message)
	}
	_, err = c.Invoke(ctx, "echo", nil, client.InvokeOptions{ID: "bad*id"})
	apiError(t, err, 400, 40001)
	_, err = c.Execution(ctx, "nosuch")
	apiError(t, err, 404, 40400)
}

// awaitSettled polls an execution until it settles.
func awaitSettled(t *testing.T, c *client.Client, id string) client.ExecutionInfo {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		info, err := c.Execution(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Promise.State != client.Pending {
			return info
		}
	}
	t.Fatalf("execution %s did not settle", id)
	return client.ExecutionInfo{}
}

// awaitPending polls until promise id exists and is pending.
func awaitPending(t *testing.T, c *client.Client, id string) client.Promise {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		p, err := c.Promise(t.Context(), id)
		if err == nil && p.State == client.Pending {
			return p
		}
		if err != nil && !client.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	t.Fatalf("promise %s never showed pending", id)
	return client.Promise{}
}

func TestSettleHistorySearchAndCancel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, newServer(t, nil).URL, client.Options{})
	if _, err := c.Deploy(ctx, "waiter", waiterModule(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, "waiter", []byte(`{}`), client.InvokeOptions{ID: "w1"}); err != nil {
		t.Fatal(err)
	}
	child := awaitPending(t, c, "w1.1")
	if child.Tags["reprise:kind"] != "promise" {
		t.Errorf("child tags %v", child.Tags)
	}

	// Search: the pending ones, then executions of the function.
	ps, _, err := c.Promises(ctx, client.Query{State: "pending"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("Promises(pending) = %+v, %v", ps, err)
	}
	ps, _, err = c.Promises(ctx, client.Query{Tags: map[string]string{"reprise:kind": "promise"}})
	if err != nil || len(ps) != 1 || ps[0].ID != "w1.1" {
		t.Fatalf("Promises(tag) = %+v, %v", ps, err)
	}
	es, cursor, err := c.Executions(ctx, "waiter", client.Query{})
	if err != nil || len(es) != 1 || es[0].ID != "w1" || cursor != "" {
		t.Fatalf("Executions(waiter) = %+v, %q, %v", es, cursor, err)
	}
	_, _, err = c.Promises(ctx, client.Query{State: "done"})
	apiError(t, err, 400, 40000)

	// Settle: the first time changes it, the same again is a no-op, another
	// outcome is refused with the state in the code.
	s := client.Settle{State: client.Resolved, Value: client.Value{Data: []byte(`"alice"`)}, IdempotencyKey: "k1"}
	p, changed, err := c.Settle(ctx, "w1.1", s)
	if err != nil || !changed || p.State != client.Resolved {
		t.Fatalf("Settle = %+v, %v, %v", p, changed, err)
	}
	if _, changed, err := c.Settle(ctx, "w1.1", s); err != nil || changed {
		t.Fatalf("Settle again = %v, %v", changed, err)
	}
	_, _, err = c.Settle(ctx, "w1.1", client.Settle{State: client.Rejected})
	apiError(t, err, 403, 40301)
	_, _, err = c.Settle(ctx, "nosuch", s)
	apiError(t, err, 404, 40400)

	info := awaitSettled(t, c, "w1")
	if info.Promise.State != client.Resolved || string(info.Promise.Value.Data) != `"alice"` {
		t.Fatalf("after settle: %+v", info.Promise)
	}
	h, err := c.History(ctx, "w1", 0)
	if err != nil || len(h) != 1 || h[0].Seq != 1 || h[0].Op != "promise" || h[0].Child != "w1.1" || len(h[0].Digest) != 32 || h[0].Time == 0 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	if h1, err := c.History(ctx, "w1", 1); err != nil || len(h1) != 1 {
		t.Fatalf("History attempt 1 = %+v, %v", h1, err)
	}
	_, err = c.History(ctx, "nosuch", 0)
	apiError(t, err, 404, 40400)

	// Cancel a waiting execution, then again.
	if _, err := c.Invoke(ctx, "waiter", nil, client.InvokeOptions{ID: "w2"}); err != nil {
		t.Fatal(err)
	}
	awaitPending(t, c, "w2.1")
	p, err = c.Cancel(ctx, "w2")
	if err != nil || p.ID != "w2" || p.State != client.RejectedCanceled {
		t.Fatalf("Cancel = %+v, %v", p, err)
	}
	_, err = c.Cancel(ctx, "w2")
	apiError(t, err, 403, 40303)
	_, err = c.Cancel(ctx, "w2.1") // a promise, not an execution
	apiError(t, err, 404, 40400)
}

func TestCreatePromise(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, newServer(t, nil).URL, client.Options{})
	cp := client.CreatePromise{ID: "ext-1", Timeout: time.Now().Add(time.Hour).UnixMilli(),
		Param: client.Value{Data: []byte{0, 1, 2}}, Tags: map[string]string{"team": "ops"}, IdempotencyKey: "c1"}
	p, created, err := c.CreatePromise(ctx, cp)
	if err != nil || !created || p.State != client.Pending || !bytes.Equal(p.Param.Data, []byte{0, 1, 2}) || p.Tags["team"] != "ops" {
		t.Fatalf("CreatePromise = %+v, %v, %v", p, created, err)
	}
	if _, created, err := c.CreatePromise(ctx, cp); err != nil || created {
		t.Fatalf("again with the same key: %v, %v", created, err)
	}
	cp.IdempotencyKey = "other"
	_, _, err = c.CreatePromise(ctx, cp)
	apiError(t, err, 409, 0)
	if got, err := c.Promise(ctx, "ext-1"); err != nil || got.ID != "ext-1" {
		t.Fatalf("Promise = %+v, %v", got, err)
	}
}

func TestTokenIsSentAsBearerAndNeverInErrors(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	var mu sync.Mutex
	var seen []string
	// In front of the real server: record the header, and refuse one path
	// as an authenticating proxy would.
	ts := newServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			if r.URL.Path == "/v1/functions/locked" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":{"code":40100,"message":"unknown token"}}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newClient(t, ts.URL, client.Options{Token: token})
	if _, err := c.Functions(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Function(t.Context(), "locked")
	e := apiError(t, err, 401, 40100)
	if strings.Contains(err.Error(), token) || strings.Contains(e.Message, token) {
		t.Errorf("the error shows the token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Bearer "+token || seen[1] != "Bearer "+token {
		t.Errorf("Authorization headers %q", seen)
	}

	// Without a token, no header.
	seen = nil
	mu.Unlock()
	if _, err := newClient(t, ts.URL, client.Options{}).Functions(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != "" {
		t.Errorf("without a token: %q", seen)
	}
}

func TestErrorsThatAreNotTheAPIFormat(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/functions":
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "<html><body>slow down</body></html>")
		}
	}))
	defer ts.Close()
	c := newClient(t, ts.URL, client.Options{})
	_, err := c.Functions(t.Context())
	if e := apiError(t, err, 502, 50200); e.Message != "upstream unavailable" {
		t.Errorf("message %q", e.Message)
	}
	_, err = c.Promise(t.Context(), "x")
	if e := apiError(t, err, 429, 42900); e.Message != "Too Many Requests" {
		t.Errorf("message %q", e.Message)
	}
}

func TestUnreachableServerNamesTheURL(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newClient(t, "http://"+addr, client.Options{Token: "tok-xyz"})
	_, err = c.Functions(t.Context())
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "tok-xyz") {
		t.Errorf("error %q should name %s and not the token", err, addr)
	}
	if ok, err := c.Ready(t.Context()); ok || err == nil {
		t.Errorf("Ready = %v, %v", ok, err)
	}
}

func TestNewChecksTheURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8420", "ftp://x", "http://", "http://h/?q=1", "::"} {
		if _, err := client.New(u, client.Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := client.New("http://h", client.Options{Token: "a\nb"}); err == nil {
		t.Error("a token with a line break was accepted")
	}
	for _, u := range []string{"http://127.0.0.1:8420", "https://reprise.example.com/base/", "http://[::1]:1"} {
		c, err := client.New(u, client.Options{})
		if err != nil {
			t.Errorf("New(%q): %v", u, err)
		} else if strings.HasSuffix(c.URL(), "/") {
			t.Errorf("URL() = %q keeps the slash", c.URL())
		}
	}
}

func TestPathPrefixIsKept(t *testing.T) {
	t.Parallel()
	ts := newServer(t, func(next http.Handler) http.Handler {
		return http.StripPrefix("/reprise", next)
	})
	c := newClient(t, ts.URL+"/reprise/", client.Options{})
	if _, err := c.Functions(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Ready(t.Context()); !ok || err != nil {
		t.Fatalf("Ready = %v, %v", ok, err)
	}
}
