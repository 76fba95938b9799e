package host_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// Outbound HTTP is checked on the address dialled, not only the name: these
// tests aim guests at loopback servers (the internal range a test machine
// may use) by every road a name check alone lets through.

// targetServer is a loopback server that counts the requests reaching it.
func targetServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		fmt.Fprint(w, "reached")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// allowNames grants http to every host name, with cfg's ranges and resolver.
func allowNames(ranges []netip.Prefix, resolve func(context.Context, string) ([]netip.Addr, error)) func(*host.Config) {
	return func(c *host.Config) {
		c.HTTP = &host.HTTPConfig{AllowRanges: ranges, Resolve: resolve, RangesSetting: "the test's ranges"}
	}
}

// fixedResolver resolves names from m, and nothing else.
func fixedResolver(m map[string][]netip.Addr) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, name string) ([]netip.Addr, error) {
		if a, ok := m[name]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, Server: "10.9.8.7:53", IsNotFound: true}
	}
}

// httpRejection runs httpcall on url and returns the rejection its http
// promise settled with; it fails the test if the call succeeded.
func httpRejection(t *testing.T, h *testHost, url string) string {
	t.Helper()
	p := h.run("httpcall", map[string]string{"url": url}, host.InvokeOptions{})
	if p.State == store.Resolved {
		t.Fatalf("http to %s: resolved %s, want it refused", url, p.Value.Data)
	}
	return string(p.Value.Data)
}

func TestHTTPRefusesLoopbackByAddressEvenWhenTheNameIsAllowed(t *testing.T) {
	srv, n := targetServer(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// Every name is allowed; no range is.
	h := newHost(t, allowNames(nil, fixedResolver(map[string][]netip.Addr{
		"localhost":      {netip.MustParseAddr("127.0.0.1")},
		"rebind.example": {netip.MustParseAddr("127.0.0.1")},
		"mapped.example": {netip.MustParseAddr("::ffff:127.0.0.1")},
	})))
	h.deploy("httpcall", "httpcall")
	for _, c := range []struct{ host, rule string }{
		{"localhost", "loopback"},
		{"127.0.0.1", "loopback"},
		{"[::ffff:127.0.0.1]", "loopback"},
		{"0.0.0.0", "unspecified"}, // on Linux, a connect to 0.0.0.0 reaches this machine
		{"rebind.example", "loopback"},
		{"mapped.example", "loopback"},
	} {
		msg := httpRejection(t, h, "http://"+c.host+":"+port+"/")
		if !strings.Contains(msg, "refused") || !strings.Contains(msg, c.rule) || !strings.Contains(msg, "the test's ranges") {
			t.Errorf("http to %s: rejection %s, want it refused naming the %s rule and the setting that lifts it", c.host, msg, c.rule)
		}
		if !strings.Contains(c.host, "127.0.0.1") && strings.Contains(msg, "127.0.0.1") {
			t.Errorf("http to %s: the rejection %s names the address dialled", c.host, msg)
		}
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("%d requests reached the loopback server", got)
	}
}

func TestHTTPAllowedRangeLetsTheRequestThrough(t *testing.T) {
	srv, n := targetServer(t, nil)
	h := newHost(t, allowNames([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil))
	h.deploy("httpcall", "httpcall")
	var out struct{ Status int }
	resolved(t, h.run("httpcall", map[string]string{"url": srv.URL}, host.InvokeOptions{}), &out)
	if out.Status != 200 || n.Load() != 1 {
		t.Fatalf("status %d, %d requests: want the allowed range reached once", out.Status, n.Load())
	}
}

func TestHTTPRedirectIsCheckedByNameAndAddress(t *testing.T) {
	// The first server is on an allowed address; the second on 127.0.0.2,
	// loopback too but outside the allowed range.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var inner atomic.Int32
	hidden := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.Add(1)
	})}}
	hidden.Start()
	t.Cleanup(hidden.Close)
	front, _ := targetServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-address":
			http.Redirect(w, r, hidden.URL+"/", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, "http://other.example/", http.StatusFound)
		}
	})
	h := newHost(t, func(c *host.Config) {
		c.HTTP = &host.HTTPConfig{
			Allow:       func(name string) bool { return name != "other.example" },
			AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		}
	})
	h.deploy("httpcall", "httpcall")
	if msg := httpRejection(t, h, front.URL+"/to-address"); !strings.Contains(msg, "loopback") {
		t.Errorf("redirect to a refused address: %s, want it refused by address", msg)
	}
	if msg := httpRejection(t, h, front.URL+"/to-name"); !strings.Contains(msg, "redirect to other.example is not allowed") {
		t.Errorf("redirect to a refused name: %s, want it refused by name", msg)
	}
	if inner.Load() != 0 {
		t.Fatalf("a redirect reached the refused address %d times", inner.Load())
	}
}

// A name that does not resolve is said so, without the resolver's address.
func TestHTTPResolveErrorHidesTheResolver(t *testing.T) {
	h := newHost(t, allowNames(nil, fixedResolver(nil)))
	h.deploy("httpcall", "httpcall")
	msg := httpRejection(t, h, "http://nowhere.example/")
	if !strings.Contains(msg, "nowhere.example does not resolve") || strings.Contains(msg, "10.9.8.7") {
		t.Fatalf("rejection %s: want it to say the name does not resolve, without the resolver's address", msg)
	}
}

// Finding 6: a body under the payload limit whose value (base64 and
// headers) is over it rejects the http promise with a clear error, instead
// of failing to record and leaving the execution pending for ever.
func TestHTTPResponseTooLargeToRecordRejectsThePromise(t *testing.T) {
	const limit = 256 << 10 // the payload limit this test configures
	body := strings.Repeat("x", limit*7/8)
	srv, _ := targetServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	h := newHost(t, allowLoopbackHTTP, func(c *host.Config) { c.MaxPayload = limit })
	h.deploy("httpcall", "httpcall")
	id, err := h.Invoke(context.Background(), "httpcall", jsonBytes(t, map[string]string{"url": srv.URL}), host.InvokeOptions{ID: "big"})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor(id, 30*time.Second)
	if !ok {
		t.Fatalf("the execution is still %s: the response that could not be recorded left it pending", p.State)
	}
	hp, err := h.Get(context.Background(), "big.1")
	if err != nil {
		t.Fatal(err)
	}
	msg := string(hp.Value.Data)
	if hp.State != store.Rejected || !strings.Contains(msg, "too large") || !strings.Contains(msg, "payload_size") || !strings.Contains(msg, fmt.Sprint(limit)) {
		t.Fatalf("http promise %s %s: want a rejection saying the response is too large, naming payload_size and its %d bytes", hp.State, msg, limit)
	}
	if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "too large") {
		t.Fatalf("execution %s %s: want it rejected with the http error", p.State, p.Value.Data)
	}
}

// guestHTTPFanout starts n http calls of req without awaiting any, then
// awaits them all (handles 1..n: they are the first n steps).
func guestHTTPFanout(n uint32, req string) []byte {
	m := &wmod{}
	httpc := m.imp("http", tI32I32toI32[0], tI32I32toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	start := countdown(0, n, cat(i32const(reqOff), i32const(uint32(len(req))), call(httpc), []byte{0x1a}))
	awaitAll := countdown(1, n, cat([]byte{0x20, 1}, call(await), []byte{0x1a})) // local.get 1: n..1
	m.fn("run", []byte{vI32, vI32}, cat(start, awaitAll))
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte(req)})
	return m.bytes()
}

// A guest starting many requests at once has at most MaxInFlight of them
// out (each may hold a response body); the others wait and are sent after.
func TestHTTPRequestsInFlightAreBounded(t *testing.T) {
	const limit, calls = 3, 12 // the bound this test configures, and the guest's calls
	var now, peak, total atomic.Int32
	arrived := make(chan struct{}, calls)
	release := make(chan struct{})
	srv, _ := targetServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		total.Add(1)
		arrived <- struct{}{}
		<-release
		now.Add(-1)
		fmt.Fprint(w, "ok")
	})
	h := newHost(t, allowLoopbackHTTP, func(c *host.Config) { c.HTTP.MaxInFlight = limit })
	h.deployRaw("g", guestHTTPFanout(calls, fmt.Sprintf(`{"method":"GET","url":%q}`, srv.URL)))
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < limit; i++ {
		<-arrived
	}
	// The first ones are held at the server: no other may arrive while
	// they are. A short look is enough to see a missing bound.
	select {
	case <-arrived:
		t.Errorf("a request arrived while %d were in flight (the bound)", limit)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if p, ok := h.awaitFor(id, 30*time.Second); !ok || p.State != store.Resolved {
		t.Fatalf("execution %s %s", p.State, p.Value.Data)
	}
	if peak.Load() > limit || total.Load() != calls {
		t.Fatalf("%d requests in flight at the peak, %d in all; want at most %d, and %d", peak.Load(), total.Load(), limit, calls)
	}
}
