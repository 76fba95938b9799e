package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store/badgerstore"
	"github.com/reprise-wasm/reprise/tenant"
)

// tenantSet is a Tenants of real hosts, one store each, keyed by token: what
// `reprise serve` does with its registry, without the file.
type tenantSet struct {
	byToken map[string]Tenant
	hosts   map[string]Host
}

func (ts *tenantSet) Authenticate(_ context.Context, token string) (Tenant, Host, error) {
	t, ok := ts.byToken[token]
	if !ok {
		return Tenant{}, nil, tenant.ErrUnauthorized
	}
	return t, ts.hosts[t.ID], nil
}

func (ts *tenantSet) Hosts() map[string]Host { return ts.hosts }

// testTenant is one tenant to serve: its token, limits and host config.
type testTenant struct {
	name, token string
	limits      tenant.Limits
	cfg         host.Config
}

// newTenantServer serves the tenants, each on its own host and store.
func newTenantServer(t testing.TB, tenants ...testTenant) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	set := &tenantSet{byToken: map[string]Tenant{}, hosts: map[string]Host{}}
	for _, tt := range tenants {
		db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		cfg := tt.cfg
		cfg.Store, cfg.Logger, cfg.NewEngine = db, log, wazeroEngine
		h, err := host.New(context.Background(), cfg)
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			h.Close(context.Background())
			db.Close()
		})
		set.byToken[tt.token] = Tenant{ID: tt.name, Limits: tt.limits}
		set.hosts[tt.name] = h
	}
	s := New(nil, Config{Logger: log})
	s.SetTenants(set)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func bearerHeader(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// echoModule resolves with its input: input_len... kept minimal with the
// shared assembler: copy the input into memory and resolve with it.
func echoModule() []byte {
	var m wt.Module
	input := m.Import(abi.Module, "input", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	resolve := m.Import(abi.Module, "resolve", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Memory = 1
	// n = input(0, 4096); resolve(0, n)
	m.Funcs = append(m.Funcs, wt.Func{Export: abi.DefaultEntry, Locals: []byte{wt.I32}, Code: wt.Cat(
		wt.I32Const(0), wt.I32Const(4096), wt.Call(input), []byte{0x21, 0}, // local.set 0
		wt.I32Const(0), []byte{0x20, 0}, wt.Call(resolve), []byte{0x1a}, // drop
	)})
	return m.Bytes()
}

// spinModule burns CPU for n loop iterations, then returns (resolves empty).
func spinModule(n uint32) []byte {
	var m wt.Module
	m.Memory = 1
	m.Funcs = append(m.Funcs, wt.Func{Export: abi.DefaultEntry, Locals: []byte{wt.I32}, Code: wt.Countdown(0, n, nil)})
	return m.Bytes()
}

func TestRequestsWithoutAValidTokenAre401(t *testing.T) {
	ts := newTenantServer(t, testTenant{name: "acme", token: "rpr_acme-secret-token-0123456789"})
	for _, c := range []struct {
		name   string
		header map[string]string
	}{
		{"no header", nil},
		{"wrong token", bearerHeader("rpr_acme-secret-token-0123456788")},
		{"forged token", bearerHeader("rpr_" + strings.Repeat("A", 43))},
		{"other scheme", map[string]string{"Authorization": "Basic YWNtZTpzZWNyZXQ="}},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}},
		{"token as query", nil}, // tokens are not read from URLs
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/v1/functions"
			if c.name == "token as query" {
				path += "?token=rpr_acme-secret-token-0123456789&access_token=rpr_acme-secret-token-0123456789"
			}
			a := do(t, ts.URL, call{"GET", path, c.header, ""})
			checkError(t, a, http.StatusUnauthorized)
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	// The right token works; health checks need none.
	if a := do(t, ts.URL, call{"GET", "/v1/functions", bearerHeader("rpr_acme-secret-token-0123456789"), ""}); a.status != 200 {
		t.Fatalf("valid token: %d %s", a.status, a.body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if a := do(t, ts.URL, call{"GET", p, nil, ""}); a.status != 200 {
			t.Errorf("%s without a token: %d", p, a.status)
		}
	}
}

func TestAnotherTenantsObjectsAreNotFoundAndIDsMayCollide(t *testing.T) {
	acme, globex := bearerHeader("rpr_acme-0123456789abcdef"), bearerHeader("rpr_globex-0123456789abcdef")
	ts := newTenantServer(t,
		testTenant{name: "acme", token: "rpr_acme-0123456789abcdef"},
		testTenant{name: "globex", token: "rpr_globex-0123456789abcdef"})
	wasm := string(echoModule())

	// acme deploys echo and runs execution "job-1"; creates promise "p-1".
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", acme, wasm}); a.status != 201 {
		t.Fatalf("deploy: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?id=job-1&wait=10s", acme, `"from acme"`}); a.status != 200 || string(a.body) != `"from acme"` {
		t.Fatalf("acme invoke: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"POST", "/v1/promises", acme, `{"id":"p-1","timeout":99999999999999}`}); a.status != 201 {
		t.Fatalf("acme promise: %d %s", a.status, a.body)
	}

	// globex sees none of it, and 404s say nothing of acme.
	for _, c := range []call{
		{"GET", "/v1/functions/echo", globex, ""},
		{"DELETE", "/v1/functions/echo", globex, ""},
		{"POST", "/v1/functions/echo/invoke", globex, `1`},
		{"GET", "/v1/executions/job-1", globex, ""},
		{"GET", "/v1/executions/job-1/history", globex, ""},
		{"POST", "/v1/executions/job-1/cancel", globex, ""},
		{"GET", "/v1/promises/p-1", globex, ""},
		{"PATCH", "/v1/promises/p-1", globex, `{"state":"RESOLVED"}`},
	} {
		a := do(t, ts.URL, c)
		checkError(t, a, http.StatusNotFound)
		if strings.Contains(string(a.body), "acme") {
			t.Errorf("%s %s: the 404 mentions the other tenant: %s", c.method, c.path, a.body)
		}
	}
	for _, path := range []string{"/v1/functions", "/v1/executions", "/v1/promises?id=*"} {
		a := do(t, ts.URL, call{"GET", path, globex, ""})
		if a.status != 200 || strings.Contains(string(a.body), "echo") || strings.Contains(string(a.body), "job-1") || strings.Contains(string(a.body), "p-1") {
			t.Errorf("GET %s as globex: %d %s", path, a.status, a.body)
		}
	}

	// The same names and ids in globex are globex's own.
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", globex, wasm}); a.status != 201 {
		t.Fatalf("globex deploy: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?id=job-1&wait=10s", globex, `"from globex"`}); a.status != 200 || string(a.body) != `"from globex"` {
		t.Fatalf("globex invoke of the same id: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"GET", "/v1/promises/job-1", acme, ""}); !strings.Contains(string(a.body), base64Of(`"from acme"`)) {
		t.Fatalf("acme's job-1 changed: %s", a.body)
	}
	// globex may settle its own p-1 without touching acme's.
	do(t, ts.URL, call{"POST", "/v1/promises", globex, `{"id":"p-1","timeout":99999999999999}`})
	if a := do(t, ts.URL, call{"PATCH", "/v1/promises/p-1", globex, `{"state":"RESOLVED"}`}); a.status != 201 {
		t.Fatalf("globex settle: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"GET", "/v1/promises/p-1", acme, ""}); a.json(t)["state"] != "PENDING" {
		t.Fatalf("acme's p-1 was settled by globex: %s", a.body)
	}
}

func TestLimitsRefuseWithTheLimitNamed(t *testing.T) {
	tok := "rpr_small-0123456789abcdef"
	auth := bearerHeader(tok)
	ts := newTenantServer(t, testTenant{name: "small", token: tok,
		limits: tenant.Limits{ModuleSize: 4 << 10, PayloadSize: 100, Rate: 1, Burst: 3},
		cfg:    host.Config{MaxPayload: 100}})
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", auth, string(echoModule())}); a.status != 201 {
		t.Fatalf("deploy: %d %s", a.status, a.body)
	}
	big := make([]byte, 5<<10)
	copy(big, echoModule())
	for _, c := range []struct {
		name   string
		call   call
		status int
		limit  string
	}{
		{"module over module_size", call{"PUT", "/v1/functions/big", auth, string(big)}, 413, tenant.LimitModuleSize},
		{"input over payload_size", call{"POST", "/v1/functions/echo/invoke", auth, strings.Repeat("1", 101)}, 413, tenant.LimitPayloadSize},
		{"promise param over payload_size", call{"POST", "/v1/promises", auth, `{"id":"x","timeout":1,"param":{"data":"` + base64Of(strings.Repeat("x", 101)) + `"}}`}, 413, tenant.LimitPayloadSize},
		{"settle value over payload_size", call{"PATCH", "/v1/promises/x", auth, `{"state":"RESOLVED","value":{"data":"` + base64Of(strings.Repeat("x", 101)) + `"}}`}, 413, tenant.LimitPayloadSize},
		{"promise tags over payload_size", call{"POST", "/v1/promises", auth, `{"id":"x","timeout":1,"tags":{"t":"` + strings.Repeat("x", 101) + `"}}`}, 413, tenant.LimitPayloadSize},
		{"param headers over payload_size", call{"POST", "/v1/promises", auth, `{"id":"x","timeout":1,"param":{"headers":{"h":"` + strings.Repeat("x", 101) + `"}}}`}, 413, tenant.LimitPayloadSize},
		{"idempotency key over payload_size", call{"POST", "/v1/promises", map[string]string{"Authorization": auth["Authorization"], "Idempotency-Key": strings.Repeat("k", 101)}, `{"id":"x","timeout":1}`}, 413, tenant.LimitPayloadSize},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, ts.URL, c.call)
			checkError(t, a, c.status)
			e := a.json(t)["error"].(map[string]any)
			if e["limit"] != c.limit || !strings.Contains(e["message"].(string), c.limit) {
				t.Fatalf("error %v does not name the limit %s", e, c.limit)
			}
		})
	}
	// rate=1/s, burst=3: the fourth invocation in a row is refused with
	// Retry-After, and nothing it carried was started.
	var refused answer
	started := 0
	for i := range 4 {
		a := do(t, ts.URL, call{"POST", fmt.Sprintf("/v1/functions/echo/invoke?id=r-%d", i), auth, `1`})
		if a.status == http.StatusTooManyRequests {
			refused = a
			break
		}
		started++
	}
	if refused.status != http.StatusTooManyRequests || started != 3 {
		t.Fatalf("started %d before a 429 (want 3); last %d %s", started, refused.status, refused.body)
	}
	checkError(t, refused, http.StatusTooManyRequests)
	if e := refused.json(t)["error"].(map[string]any); e["limit"] != tenant.LimitRate {
		t.Fatalf("429 body %v does not name the rate limit", e)
	}
	if refused.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if a := do(t, ts.URL, call{"GET", "/v1/executions/r-3", auth, ""}); a.status != 404 {
		t.Fatalf("the refused invocation exists: %d %s", a.status, a.body)
	}
	// The same rate bounds creating promises.
	if a := do(t, ts.URL, call{"POST", "/v1/promises", auth, `{"id":"p","timeout":1}`}); a.status != http.StatusTooManyRequests {
		t.Fatalf("a promise created over the rate: %d %s", a.status, a.body)
	}
	// After the wait it says, the tenant may invoke again.
	time.Sleep(1100 * time.Millisecond)
	if a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?id=r-3", auth, `1`}); a.status != 202 {
		t.Fatalf("after Retry-After: %d %s", a.status, a.body)
	}
}

// TestOneTenantsFloodDoesNotStarveAnother: while one tenant has thousands
// of CPU-heavy invocations queued and running (and endless loops), another
// tenant's small invocation still finishes, long before the flood does.
func TestOneTenantsFloodDoesNotStarveAnother(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	floodTok, quietTok := "rpr_flood-0123456789abcdef", "rpr_quiet-0123456789abcdef"
	flood, quiet := bearerHeader(floodTok), bearerHeader(quietTok)
	ts := newTenantServer(t,
		testTenant{name: "flood", token: floodTok, cfg: host.Config{Workers: 2, StepTimeout: time.Second,
			Retry: host.RetryPolicy{MaxAttempts: 1}}},
		testTenant{name: "quiet", token: quietTok, cfg: host.Config{Workers: 2}})

	if a := do(t, ts.URL, call{"PUT", "/v1/functions/spin", flood, string(spinModule(20_000_000))}); a.status != 201 {
		t.Fatalf("deploy spin: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/forever", flood, string(spinModule(0))}); a.status != 201 { // 0: 2^32 iterations, stopped by the step limit
		t.Fatalf("deploy forever: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", quiet, string(echoModule())}); a.status != 201 {
		t.Fatalf("deploy echo: %d %s", a.status, a.body)
	}

	// The flood: n invocations from 16 clients, plus endless loops.
	var accepted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				select {
				case <-stop:
					return
				default:
				}
				fn := "spin"
				if i%500 == 0 {
					fn = "forever"
				}
				req, _ := http.NewRequest("POST", ts.URL+"/v1/functions/"+fn+"/invoke", strings.NewReader("1"))
				req.Header.Set("Authorization", "Bearer "+floodTok)
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					accepted.Add(1)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for accepted.Load() < int64(n/10) {
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?wait=30s", quiet, `"small"`})
	took := time.Since(start)
	if a.status != 200 || string(a.body) != `"small"` || a.header.Get(HeaderState) != "RESOLVED" {
		t.Fatalf("quiet tenant's invocation during the flood: %d %s %s", a.status, a.header.Get(HeaderState), a.body)
	}
	// The flood is still far from done: the quiet tenant did not wait for it.
	pending := do(t, ts.URL, call{"GET", "/v1/executions?state=pending&limit=100", flood, ""})
	if pending.status != 200 || !strings.Contains(string(pending.body), `"PENDING"`) {
		t.Fatalf("the flood had no pending executions left: %d %s", pending.status, pending.body)
	}
	t.Logf("quiet tenant's invocation took %v with %d flood invocations accepted", took, accepted.Load())
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// sleepModule sleeps for d (a durable timer) and then returns.
func sleepModule(d time.Duration) []byte {
	var m wt.Module
	sleep := m.Import(abi.Module, "sleep", []byte{wt.I64}, []byte{wt.I32})
	await := m.Import(abi.Module, "await", []byte{wt.I32}, []byte{wt.I32})
	m.Memory = 1
	m.Funcs = append(m.Funcs, wt.Func{Export: abi.DefaultEntry, Code: wt.Cat(
		wt.I64Const(int64(d)), wt.Call(sleep), wt.Call(await), wt.Drop)})
	return m.Bytes()
}

func TestInvokeTimeoutAndLongPollOfAnExecution(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	for name, d := range map[string]time.Duration{"hour": time.Hour, "brief": 300 * time.Millisecond} {
		if a := do(t, ts.URL, call{"PUT", "/v1/functions/" + name, nil, string(sleepModule(d))}); a.status != 201 {
			t.Fatalf("deploy: %d %s", a.status, a.body)
		}
	}
	// ?timeout rejects an execution that has not finished in time.
	a := do(t, ts.URL, call{"POST", "/v1/functions/hour/invoke?timeout=200ms&wait=10s", nil, ""})
	if a.status != 200 || a.header.Get(HeaderState) != "REJECTED_TIMEDOUT" {
		t.Fatalf("invoke with timeout: %d %s %s", a.status, a.header.Get(HeaderState), a.body)
	}
	checkError(t, do(t, ts.URL, call{"POST", "/v1/functions/hour/invoke?timeout=soon", nil, ""}), 400)

	// ?wait on GET answers when the execution settles...
	do(t, ts.URL, call{"POST", "/v1/functions/brief/invoke?id=b1", nil, ""})
	if a := do(t, ts.URL, call{"GET", "/v1/executions/b1?wait=10s", nil, ""}); a.json(t)["promise"].(map[string]any)["state"] != "RESOLVED" {
		t.Fatalf("long-poll of a settling execution: %s", a.body)
	}
	// ...or when the wait ends, still pending.
	do(t, ts.URL, call{"POST", "/v1/functions/hour/invoke?id=h1", nil, ""})
	start := time.Now()
	a = do(t, ts.URL, call{"GET", "/v1/executions/h1?wait=150ms", nil, ""})
	if a.status != 200 || a.json(t)["promise"].(map[string]any)["state"] != "PENDING" || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("long-poll of a pending execution: %d %s after %v", a.status, a.body, time.Since(start))
	}
	checkError(t, do(t, ts.URL, call{"GET", "/v1/executions/h1?wait=x", nil, ""}), 400)
}
