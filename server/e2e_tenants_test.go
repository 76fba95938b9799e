package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// reprise runs the CLI binary and returns its stdout, failing on an error.
func reprise(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("reprise %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestE2EWithTenants runs `reprise serve` with authentication: tenants made
// by `reprise tenant`, isolation between them, a kill -9 mid-execution
// whose work the restarted server finishes, token rotation, and a limit
// changed while the server runs.
func TestE2EWithTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprise binary")
	}
	dir := buildE2E(t)
	bin, data := filepath.Join(dir, "reprise"), filepath.Join(t.TempDir(), "data")
	acmeTok := reprise(t, bin, "--data", data, "tenant", "create", "acme")
	globexTok := reprise(t, bin, "--data", data, "tenant", "create", "globex")
	webTok := reprise(t, bin, "--data", data, "tenant", "create", "web", "--http-allow", "127.0.0.1", "--http-allow-ranges", "127.0.0.1")
	tightTok := reprise(t, bin, "--data", data, "tenant", "create", "tight", "--memory", "1MiB", "--journal-length", "3", "--step-time", "300ms")
	acme, globex, web, tight := bearerHeader(acmeTok), bearerHeader(globexTok), bearerHeader(webTok), bearerHeader(tightTok)

	top := t
	srv := startServe(t, top, bin, data)
	base := srv.url

	checkError(t, do(t, base, call{"GET", "/v1/functions", nil, ""}), 401)
	checkError(t, do(t, base, call{"GET", "/v1/functions", bearerHeader(acmeTok + "x"), ""}), 401)
	// Metrics name every tenant: without --metrics-addr there are none.
	if a := do(t, base, call{"GET", "/metrics", nil, ""}); a.status != 404 {
		t.Fatalf("/metrics on the API address of a server with tenants: %d", a.status)
	}

	deploy(t, base, "square", filepath.Join(dir, "square.wasm"), acme)
	deploy(t, base, "sleep", filepath.Join(dir, "sleep.wasm"), acme)
	if a := do(t, base, call{"POST", "/v1/functions/square/invoke?id=sq&wait=30s", acme, "7"}); a.status != 200 || string(a.body) != "49" {
		t.Fatalf("acme invoke: %d %s", a.status, a.body)
	}
	checkError(t, do(t, base, call{"GET", "/v1/executions/sq", globex, ""}), 404)
	checkError(t, do(t, base, call{"POST", "/v1/functions/square/invoke", globex, "7"}), 404)

	// Outbound HTTP follows each tenant's allowlist: web may reach
	// 127.0.0.1, globex nothing.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello from the target")) }))
	defer target.Close()
	input := fmt.Sprintf(`{"url":%q}`, target.URL)
	for _, c := range []struct {
		who   map[string]string
		state string
		has   string
	}{{web, "RESOLVED", "hello from the target"}, {globex, "REJECTED", "127.0.0.1"}} {
		deploy(t, base, "httpcall", filepath.Join(dir, "httpcall.wasm"), c.who)
		a := do(t, base, call{"POST", "/v1/functions/httpcall/invoke?wait=30s", c.who, input})
		if a.status != 200 || a.header.Get(HeaderState) != c.state || !strings.Contains(string(a.body), c.has) {
			t.Fatalf("httpcall: %d %s %s, want %s with %q", a.status, a.header.Get(HeaderState), a.body, c.state, c.has)
		}
	}

	// The host-side limits of a tenant are its host's: a Go guest needs more
	// than 1 MiB of memory, four journaled calls are more than three, and
	// an endless loop is stopped after the step time.
	a := do(t, base, call{"PUT", "/v1/functions/square", tight, string(mustRead(t, filepath.Join(dir, "square.wasm")))})
	checkError(t, a, 400)
	if !strings.Contains(string(a.body), "memory limit") {
		t.Fatalf("deploy over the memory limit: %s", a.body)
	}
	var clock wt.Module
	now := clock.Import(abi.Module, "now", nil, []byte{wt.I64})
	clock.Memory = 1
	clock.Funcs = []wt.Func{{Export: abi.DefaultEntry, Code: wt.Cat(
		wt.Call(now), wt.Drop, wt.Call(now), wt.Drop, wt.Call(now), wt.Drop, wt.Call(now), wt.Drop)}}
	if a := do(t, base, call{"PUT", "/v1/functions/clock", tight, string(clock.Bytes())}); a.status != 201 {
		t.Fatalf("deploy clock: %d %s", a.status, a.body)
	}
	if a := do(t, base, call{"POST", "/v1/functions/clock/invoke?wait=30s", tight, ""}); a.header.Get(HeaderState) != "REJECTED" || !strings.Contains(string(a.body), "more than 3 journaled host calls") {
		t.Fatalf("over the journal length: %d %s %s", a.status, a.header.Get(HeaderState), a.body)
	}
	if a := do(t, base, call{"PUT", "/v1/functions/forever", tight, string(spinModule(0))}); a.status != 201 {
		t.Fatalf("deploy forever: %d %s", a.status, a.body)
	}
	if a := do(t, base, call{"POST", "/v1/functions/forever/invoke?wait=30s", tight, ""}); a.header.Get(HeaderState) != "REJECTED" || !strings.Contains(string(a.body), "300ms") {
		t.Fatalf("over the step time: %d %s %s", a.status, a.header.Get(HeaderState), a.body)
	}

	// kill -9 while acme's execution sleeps; the restarted server finishes it.
	if a := do(t, base, call{"POST", "/v1/functions/sleep/invoke?id=nap", acme, `{"ms":1500}`}); a.status != 202 {
		t.Fatalf("invoke sleep: %d %s", a.status, a.body)
	}
	waitFor(t, 20*time.Second, "the sleep to start", func() bool {
		a := do(t, base, call{"GET", "/v1/executions/nap/history", acme, ""})
		return strings.Contains(string(a.body), `"op":"sleep"`)
	})
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	srv = startServe(t, top, bin, data)
	base = srv.url
	waitFor(t, 20*time.Second, "the sleep to finish after restart", func() bool {
		s, _ := execState(t, base, "nap", acme)
		return s == "RESOLVED"
	})
	_, v := execState(t, base, "nap", acme)
	var out struct {
		SleptMS int64 `json:"slept_ms"`
	}
	if err := json.Unmarshal(v, &out); err != nil || out.SleptMS < 1500 {
		t.Fatalf("result %s: %v", v, err)
	}

	// A rotated token stops working while the server runs; the new one works.
	fresh := reprise(t, bin, "--data", data, "tenant", "rotate", "acme")
	waitFor(t, 5*time.Second, "the old token to be refused", func() bool {
		return do(t, base, call{"GET", "/v1/functions", acme, ""}).status == 401
	})
	if a := do(t, base, call{"GET", "/v1/executions/nap", bearerHeader(fresh), ""}); a.status != 200 {
		t.Fatalf("new token: %d %s", a.status, a.body)
	}
	acme = bearerHeader(fresh)

	// A tenant created while the server runs is served at once; a rate set
	// while it runs applies at once.
	lateTok := reprise(t, bin, "--data", data, "tenant", "create", "late", "--rate", "1", "--burst", "1")
	late := bearerHeader(lateTok)
	waitFor(t, 5*time.Second, "the new tenant", func() bool {
		return do(t, base, call{"GET", "/v1/functions", late, ""}).status == 200
	})
	deploy(t, base, "square", filepath.Join(dir, "square.wasm"), late)
	do(t, base, call{"POST", "/v1/functions/square/invoke", late, "2"})
	a = do(t, base, call{"POST", "/v1/functions/square/invoke", late, "3"})
	checkError(t, a, 429)
	if !strings.Contains(string(a.body), `"limit":"rate"`) {
		t.Fatalf("429 body %s", a.body)
	}

	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, srv.stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestE2EOneTenantsBrokenStoreDoesNotStopTheOthers: a tenant whose store
// cannot open answers 503 (without internal details) while the server
// serves every other tenant.
func TestE2EOneTenantsBrokenStoreDoesNotStopTheOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprise binary")
	}
	dir := buildE2E(t)
	bin, data := filepath.Join(dir, "reprise"), filepath.Join(t.TempDir(), "data")
	okTok := reprise(t, bin, "--data", data, "tenant", "create", "fine")
	badTok := reprise(t, bin, "--data", data, "tenant", "create", "broken")
	// A file where the tenant's store directory should be.
	if err := os.MkdirAll(filepath.Join(data, "tenants", "broken"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tenants", "broken", "store"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, t, bin, data)
	deploy(t, srv.url, "square", filepath.Join(dir, "square.wasm"), bearerHeader(okTok))
	if a := do(t, srv.url, call{"POST", "/v1/functions/square/invoke?wait=30s", bearerHeader(okTok), "5"}); a.status != 200 || string(a.body) != "25" {
		t.Fatalf("the healthy tenant: %d %s", a.status, a.body)
	}
	a := do(t, srv.url, call{"GET", "/v1/functions", bearerHeader(badTok), ""})
	checkError(t, a, 503)
	if strings.Contains(string(a.body), data) {
		t.Fatalf("the 503 shows a server path: %s", a.body)
	}
	if !strings.Contains(srv.stderr.String(), "tenant not served") {
		t.Fatalf("the server log does not say which tenant failed:\n%s", srv.stderr)
	}
}

// TestE2EMetricsOnAPrivateAddress: with --metrics-addr, /metrics (which
// names every tenant) is served there and not on the API's address.
func TestE2EMetricsOnAPrivateAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprise binary")
	}
	dir := buildE2E(t)
	bin, data := filepath.Join(dir, "reprise"), filepath.Join(t.TempDir(), "data")
	reprise(t, bin, "--data", data, "tenant", "create", "acme")
	srv := startServe(t, t, bin, data, "--metrics-addr", "127.0.0.1:0")
	line, err := srv.stdout.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "metrics on ") {
		t.Fatalf("second line %q, %v", line, err)
	}
	metricsURL := strings.TrimSpace(strings.TrimPrefix(line, "metrics on "))
	// A tenant is in the metrics once its store is open, which happens
	// in the background after the server is ready.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(b), `reprise_executions{tenant="acme"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("private metrics: %d %s", resp.StatusCode, b)
		}
	}
	if a := do(t, srv.url, call{"GET", "/metrics", nil, ""}); a.status != 404 {
		t.Fatalf("/metrics on the API address: %d", a.status)
	}
}
