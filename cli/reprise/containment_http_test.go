package main

// Containment of outbound HTTP and guest logs (issue 10, findings 6-8),
// against a real `reprise serve`: the allowlist holds on the address
// dialled, a response too large to record ends the execution with the named
// error, and a guest's log text cannot pass for the server's.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/client"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// loopbackTarget is a server on 127.0.0.1 that counts what reaches it.
func loopbackTarget(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// callHTTP invokes httpcall on target as s's tenant and waits for its end.
func callHTTP(t *testing.T, s server, target string) client.Invocation {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"url": target})
	inv, err := s.client(t).Invoke(context.Background(), "httpcall", in, client.InvokeOptions{Wait: time.Minute})
	if err != nil {
		t.Fatalf("invoke httpcall on %s: %v", target, err)
	}
	if !inv.Settled() {
		t.Fatalf("httpcall on %s is still %s after a minute", target, inv.State)
	}
	return inv
}

// requireRefused requires the call to have been rejected by the address
// rule, naming the tenant limit that lifts it.
func requireRefused(t *testing.T, inv client.Invocation, target, rule string) {
	t.Helper()
	msg := string(inv.Value)
	if inv.State != client.Rejected || !strings.Contains(msg, "refused") || !strings.Contains(msg, rule) || !strings.Contains(msg, "http_allow_ranges") {
		t.Errorf("http to %s: %s %s; want it rejected as %s address, naming http_allow_ranges", target, inv.State, msg, rule)
	}
}

// waitMetricsAddr returns the address the server serves /metrics on.
func waitMetricsAddr(t *testing.T, s server) string {
	t.Helper()
	var addr string
	eventually(t, "the server prints its metrics address", func() bool {
		for _, l := range strings.Split(s.stdout.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "metrics on http://"); ok {
				addr = strings.TrimSuffix(rest, "/metrics")
				return true
			}
		}
		return false
	})
	return addr
}

// Finding 7. Bound: with http_allow "localhost" and no http_allow_ranges,
// no request reaches any loopback port — the private metrics listener, the
// API, another server — and with http_allow "*" no other road there
// (address literals, IPv4-mapped, 0.0.0.0) does either. The quiet tenant
// is served throughout; the server stays under 512 MiB.
func TestContainmentHTTPAllowlistHoldsOnTheAddressDialled(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--http-allow", "localhost"}, "--metrics-addr", "127.0.0.1:0")
	metrics := waitMetricsAddr(t, a.server)
	target, reached := loopbackTarget(t, "reached")
	_, targetPort, _ := net.SplitHostPort(target.Listener.Addr().String())
	api, _ := url.Parse(a.url)
	load := a.quiet.keepInvoking(t)

	a.ok(t, "deploy", "httpcall", wasm["httpcall"])
	_, metricsPort, _ := net.SplitHostPort(metrics)
	for _, u := range []string{
		"http://localhost:" + metricsPort + "/metrics",
		"http://localhost:" + api.Port() + "/v1/functions",
		"http://localhost:" + targetPort + "/",
	} {
		requireRefused(t, callHTTP(t, a.server, u), u, "loopback")
	}

	// Another tenant allowed every name gets no further.
	star := a.server
	star.token = strings.TrimSpace(ok(t, a.data, "tenant", "create", "star", "--http-allow", "*"))
	eventually(t, "the new tenant is served", func() bool { return reprise(t, a.data, star.args("functions")...).code == 0 })
	star.ok(t, "deploy", "httpcall", wasm["httpcall"])
	for _, c := range []struct{ host, rule string }{
		{"127.0.0.1", "loopback"}, {"127.0.0.2", "loopback"}, {"[::ffff:127.0.0.1]", "loopback"},
		{"0.0.0.0", "unspecified"}, {"localhost", "loopback"},
	} {
		u := "http://" + c.host + ":" + targetPort + "/"
		requireRefused(t, callHTTP(t, star, u), u, c.rule)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests of the guests reached a loopback server", n)
	}
	load.requireServed(t)
	a.requirePeakUnder(t, 512<<20, "loopback probes")
}

// Finding 6. Bound: at the default payload_size (1 MiB), a 900 KiB body —
// under the body limit, over it as the value the guest reads (base64) —
// rejects the execution with the named error instead of leaving it pending
// for ever. The quiet tenant is served; the server stays under 512 MiB.
func TestContainmentHTTPResponseTooLargeToRecordEndsTheExecution(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--http-allow", "127.0.0.1", "--http-allow-ranges", "127.0.0.1"})
	target, reached := loopbackTarget(t, strings.Repeat("x", 900<<10))
	load := a.quiet.keepInvoking(t)
	a.ok(t, "deploy", "httpcall", wasm["httpcall"])
	for i := 0; i < 3; i++ {
		inv := callHTTP(t, a.server, target.URL)
		msg := string(inv.Value)
		if inv.State != client.Rejected || !strings.Contains(msg, "too large") || !strings.Contains(msg, "payload_size") || !strings.Contains(msg, "1048576") {
			t.Fatalf("oversized response %d: %s %s; want it rejected saying the response is too large for payload_size (1048576 bytes)", i, inv.State, msg)
		}
	}
	if reached.Load() != 3 {
		t.Fatalf("the target saw %d requests, want 3 (the allowed range lets them through)", reached.Load())
	}
	load.requireServed(t)
	a.requirePeakUnder(t, 512<<20, "oversized http responses")
}

// guestLogsText is a module whose run logs text n times at level.
func guestLogsText(level int32, text string, n uint32) []byte {
	m := wt.Module{Memory: 1, Data: []wt.Data{{Offset: 1024, Bytes: []byte(text)}}}
	logf := m.Import(abi.Module, abi.ImportLog, []byte{wt.I32, wt.I32, wt.I32}, nil)
	m.Func(abi.DefaultEntry, []byte{wt.I32}, wt.Countdown(0, n,
		wt.Cat(wt.I32Const(level), wt.I32Const(1024), wt.I32Const(int32(len(text))), wt.Call(logf))))
	return m.Bytes()
}

// Finding 8. Bound: a guest's text reaches the server's log only as the
// escaped text field of a "guest log" record, and at most 64 KiB of it per
// attempt, then one truncation note.
func TestContainmentHTTPGuestLogCannotForgeServerLines(t *testing.T) {
	t.Parallel()
	a := startArena(t, nil)
	dir := t.TempDir()
	forged := "done\n2026-12-07T00:00:00.000Z ERROR store failed err=\"disk full\" tenant=quiet\x1b[2J\x00"
	mods := map[string][]byte{
		"forger": guestLogsText(abi.LogError, forged, 1),
		"flood":  guestLogsText(abi.LogInfo, strings.Repeat("f", 4000), 100), // 400,000 bytes
	}
	for name, b := range mods {
		f := filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		a.ok(t, "deploy", name, f)
		if inv, err := a.client(t).Invoke(context.Background(), name, nil, client.InvokeOptions{Wait: time.Minute}); err != nil || inv.State != client.Resolved {
			t.Fatalf("invoke %s: %v %s %s", name, err, inv.State, inv.Value)
		}
	}
	var forgedLines, floodBytes, floodLines, notes int
	eventually(t, "the server logs the truncation note", func() bool {
		return strings.Contains(a.stderr.String(), "guest log truncated")
	})
	log := a.stderr.String()
	if strings.ContainsAny(log, "\x1b\x00") {
		t.Errorf("ESC or NUL from a guest reached the server's log")
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "store failed") {
			forgedLines++
			if !strings.Contains(line, "guest log") || !strings.Contains(line, "tenant=attacker") || !strings.Contains(line, "function=forger") {
				t.Errorf("the guest's text is not a field of a guest log record of its tenant: %q", line)
			}
		}
		if _, text, ok := strings.Cut(line, " text="); ok && strings.Contains(line, "guest log") && strings.Contains(line, "function=flood") {
			text, _, _ = strings.Cut(text, " ")
			floodBytes += len(text)
			floodLines++
		}
		if strings.Contains(line, "guest log truncated") {
			notes++
		}
	}
	if forgedLines != 1 {
		t.Errorf("the forged text spans %d log lines, want 1:\n%s", forgedLines, log)
	}
	if floodBytes != 64<<10 || floodLines != 17 || notes != 1 {
		t.Errorf("a guest logging 100 × 4,000 bytes got %d bytes into the log in %d lines, and %d truncation notes; want 64 KiB in 17 and one", floodBytes, floodLines, notes)
	}
}
