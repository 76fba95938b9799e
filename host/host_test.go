package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// testHost is a host on a fresh Badger store in t.TempDir().
type testHost struct {
	*host.Host
	t     testing.TB
	store *badgerstore.DB
	dir   string
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("REPRISE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newHost(t testing.TB, configure ...func(*host.Config)) *testHost {
	t.Helper()
	return openHost(t, t.TempDir(), configure...)
}

func openHost(t testing.TB, dir string, configure ...func(*host.Config)) *testHost {
	t.Helper()
	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := host.Config{Store: db, Logger: testLogger(t), CacheDir: cacheDir, NewEngine: testEngine()}
	for _, c := range configure {
		c(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	th := &testHost{Host: h, t: t, store: db, dir: dir}
	t.Cleanup(th.close)
	return th
}

// close stops the host and its store; safe to call twice.
func (th *testHost) close() {
	if th.Host == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := th.Host.Close(ctx); err != nil {
		th.t.Errorf("close host: %v", err)
	}
	if n := host.InvalidTransitions(th.Host); n != 0 {
		th.t.Errorf("the host made %d invalid state transitions (see its error log)", n)
	}
	if live := host.LiveByState(th.Host); len(live) != 0 {
		th.t.Errorf("after Close, executions are still driven: %v", live)
	}
	if err := th.store.Close(); err != nil {
		th.t.Errorf("close store: %v", err)
	}
	th.Host = nil
}

func (th *testHost) deploy(name, guestName string) {
	th.t.Helper()
	if _, err := th.Deploy(context.Background(), name, guest(th.t, guestName), ""); err != nil {
		th.t.Fatalf("deploy %s: %v", name, err)
	}
}

// run invokes and waits for the result.
func (th *testHost) run(name string, input any, opts host.InvokeOptions) store.Promise {
	th.t.Helper()
	id, err := th.Invoke(context.Background(), name, jsonBytes(th.t, input), opts)
	if err != nil {
		th.t.Fatalf("invoke %s: %v", name, err)
	}
	return th.await(id)
}

func (th *testHost) await(id string) store.Promise {
	th.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := th.Await(ctx, id)
	if err != nil {
		th.t.Fatalf("await %s: %v", id, err)
	}
	return p
}

func jsonBytes(t testing.TB, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resolved checks p resolved and decodes its value into out.
func resolved(t testing.TB, p store.Promise, out any) {
	t.Helper()
	if p.State != store.Resolved {
		t.Fatalf("promise %s is %s with %s, want RESOLVED", p.ID, p.State, p.Value.Data)
	}
	if out != nil {
		if err := json.Unmarshal(p.Value.Data, out); err != nil {
			t.Fatalf("value of %s: %v: %s", p.ID, err, p.Value.Data)
		}
	}
}

func TestHelloResolvesWithGreeting(t *testing.T) {
	h := newHost(t)
	h.deploy("hello", "hello")
	var out struct{ Greeting string }
	resolved(t, h.run("hello", map[string]string{"name": "Ada"}, host.InvokeOptions{}), &out)
	if out.Greeting != "Hello, Ada!" {
		t.Fatalf("greeting = %q", out.Greeting)
	}
}

func TestRawGuestEchoesBinaryInput(t *testing.T) {
	h := newHost(t)
	if _, err := h.Deploy(context.Background(), "raw", rawEcho(), ""); err != nil {
		t.Fatal(err)
	}
	in := []byte{0, 1, 2, 0xff, 0xfe, 'x'}
	p := h.run("raw", in, host.InvokeOptions{})
	if p.State != store.Resolved || string(p.Value.Data) != string(in) {
		t.Fatalf("got %s %q, want RESOLVED %q", p.State, p.Value.Data, in)
	}
}

func TestEchoKeepsLargeNonUTF8Payload(t *testing.T) {
	h := newHost(t)
	h.deploy("echo", "echo")
	in := make([]byte, 700<<10)
	for i := range in {
		in[i] = byte(i*7 + i>>8)
	}
	p := h.run("echo", in, host.InvokeOptions{})
	if p.State != store.Resolved || string(p.Value.Data) != string(in) {
		t.Fatalf("echo of %d bytes came back %s with %d bytes", len(in), p.State, len(p.Value.Data))
	}
}

func TestFanoutAggregatesChildren(t *testing.T) {
	h := newHost(t)
	h.deploy("fanout", "fanout")
	h.deploy("square", "square")
	var out struct{ N, Sum int }
	p := h.run("fanout", map[string]any{"n": 30, "child": "square"}, host.InvokeOptions{ID: "fan"})
	resolved(t, p, &out)
	if want := 30 * 31 * 61 / 6; out.Sum != want {
		t.Fatalf("sum = %d, want %d", out.Sum, want)
	}
	// Every child is a durable promise with a derived id.
	c, err := h.Get(context.Background(), "fan.1")
	if err != nil || c.State != store.Resolved || string(c.Value.Data) != "1" {
		t.Fatalf("child fan.1 = %+v, %v", c, err)
	}
}

func TestInvokeSameIDRunsOnce(t *testing.T) {
	rec := newRecorder(t)
	h := newHost(t, allowLoopbackHTTP)
	h.deploy("recorder", "recorder")
	in := map[string]any{"i": 7, "record_url": rec.url}
	opts := host.InvokeOptions{ID: "once"}
	first := h.run("recorder", in, opts)
	second := h.run("recorder", in, opts)
	resolved(t, first, nil)
	if string(first.Value.Data) != string(second.Value.Data) || first.CompletedOn != second.CompletedOn {
		t.Fatalf("second invoke gave %s, first %s", second.Value.Data, first.Value.Data)
	}
	if got := rec.tokens("once"); len(got) != 1 {
		t.Fatalf("the function body ran %d times (tokens %v), want once", len(got), got)
	}
	// The same id for another function is a conflict, not a silent reuse.
	h.deploy("echo", "echo")
	if _, err := h.Invoke(context.Background(), "echo", []byte("x"), opts); err == nil || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("invoke of another function with a used id: err = %v, want a conflict", err)
	}
}

func TestDurableSleepAdvancesVirtualClock(t *testing.T) {
	h := newHost(t)
	h.deploy("sleep", "sleep")
	start := time.Now()
	var out struct {
		SleptMS int64 `json:"slept_ms"`
	}
	resolved(t, h.run("sleep", map[string]int{"ms": 300}, host.InvokeOptions{}), &out)
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("returned after %v, before the 300ms sleep", el)
	}
	if out.SleptMS < 300 {
		t.Fatalf("guest measured %dms across a 300ms sleep", out.SleptMS)
	}
}

func TestExternalPromiseResolvedFromOutside(t *testing.T) {
	h := newHost(t)
	h.deploy("approve", "approve")
	id, err := h.Invoke(context.Background(), "approve", []byte(`{}`), host.InvokeOptions{ID: "ap"})
	if err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, "ap.1")
	if _, err := h.Settle(context.Background(), store.Settle{ID: "ap.1", State: store.Resolved, Value: store.Value{Data: []byte(`"yes"`)}}); err != nil {
		t.Fatal(err)
	}
	var out struct{ State, Value string }
	resolved(t, h.await(id), &out)
	if out.Value != `"yes"` {
		t.Fatalf("guest saw %+v", out)
	}
}

func TestExternalPromiseTimesOut(t *testing.T) {
	h := newHost(t)
	h.deploy("approve", "approve")
	var out struct{ State string }
	resolved(t, h.run("approve", map[string]int{"timeout_ms": 150}, host.InvokeOptions{}), &out)
	if !strings.Contains(strings.ToLower(out.State), "timedout") && !strings.Contains(strings.ToLower(out.State), "timed") {
		t.Fatalf("state seen by the guest = %q, want timed out", out.State)
	}
}

func TestCancelStopsWaitingExecution(t *testing.T) {
	h := newHost(t)
	h.deploy("approve", "approve")
	id, err := h.Invoke(context.Background(), "approve", []byte(`{}`), host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitPromise(t, h, id+".1")
	if _, err := h.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if p := h.await(id); p.State != store.RejectedCanceled {
		t.Fatalf("state = %s, want REJECTED_CANCELED", p.State)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.Parked() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Parked(); n != 0 {
		t.Fatalf("%d instances still parked after cancel", n)
	}
}

func TestAwaitAnyPicksFirstSettled(t *testing.T) {
	h := newHost(t)
	h.deploy("race", "race")
	for _, tc := range []struct{ a, b, want int }{{400, 20, 1}, {20, 400, 0}} {
		p := h.run("race", map[string]int{"a_ms": tc.a, "b_ms": tc.b}, host.InvokeOptions{})
		var got int
		resolved(t, p, &got)
		if got != tc.want {
			t.Errorf("race a=%d b=%d: winner %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestHTTPCallReachesAllowedServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hi from "+r.URL.Path)
	}))
	defer srv.Close()
	h := newHost(t, allowLoopbackHTTP)
	h.deploy("httpcall", "httpcall")
	var out struct {
		Status int
		Body   string
	}
	resolved(t, h.run("httpcall", map[string]string{"url": srv.URL + "/x"}, host.InvokeOptions{}), &out)
	if out.Status != 200 || out.Body != "hi from /x" {
		t.Fatalf("got %+v", out)
	}
}

func TestHTTPIsOffUnlessGranted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request reached the server although http was not granted")
	}))
	defer srv.Close()
	h := newHost(t)
	h.deploy("httpcall", "httpcall")
	p := h.run("httpcall", map[string]string{"url": srv.URL}, host.InvokeOptions{})
	if p.State == store.Resolved || !strings.Contains(string(p.Value.Data), "not enabled") {
		t.Fatalf("got %s %s, want a rejection saying http is not enabled", p.State, p.Value.Data)
	}
}

// allowLoopbackHTTP grants http to loopback addresses only: by name, and
// the loopback ranges by address (refused by default).
func allowLoopbackHTTP(c *host.Config) {
	c.HTTP = &host.HTTPConfig{Allow: func(h string) bool {
		ip := net.ParseIP(h)
		return h == "localhost" || (ip != nil && ip.IsLoopback())
	}, AllowRanges: loopbackRanges}
}

var loopbackRanges = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// waitPromise waits until promise id exists.
func waitPromise(t testing.TB, h *testHost, id string) store.Promise {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := h.Get(context.Background(), id)
		if err == nil {
			return p
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("promise %s: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is a loopback HTTP server children report to: it keeps, per
// execution id, the distinct tokens it was sent. A child replayed correctly
// resends the same (journaled) token; one re-run from scratch sends a new one.
type recorderServer struct {
	url string
	mu  sync.Mutex
	got map[string]map[string]int
}

func newRecorder(t testing.TB) *recorderServer {
	rs := &recorderServer{got: map[string]map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ID    string `json:"id"`
			Token any    `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ID == "" {
			http.Error(w, "bad body", 400)
			return
		}
		rs.mu.Lock()
		m := rs.got[body.ID]
		if m == nil {
			m = map[string]int{}
			rs.got[body.ID] = m
		}
		m[fmt.Sprint(body.Token)]++
		rs.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rs.url = srv.URL
	return rs
}

func (rs *recorderServer) tokens(id string) map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string]int{}
	for k, v := range rs.got[id] {
		out[k] = v
	}
	return out
}

func (rs *recorderServer) ids() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []string
	for id := range rs.got {
		out = append(out, id)
	}
	return out
}
