package server

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/tenant"
)

// Reserved tags and keys are the host's: every route that writes them
// from outside answers 400 naming the one it refused, and writes nothing.
func TestReservedTagsAndKeysAreRefused(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	for _, c := range []struct {
		name string
		call call
		want string
	}{
		{"kind tag", call{"POST", "/v1/promises", nil, `{"id":"forged-http","timeout":4102444800000,"tags":{"reprise:kind":"http"},"param":{"data":"` + base64Of(`{"url":"http://127.0.0.1:1/"}`) + `"}}`}, `"reprise:kind"`},
		{"function tag", call{"POST", "/v1/promises", nil, `{"id":"forged-exec","timeout":4102444800000,"tags":{"reprise:function":"x"}}`}, `"reprise:function"`},
		{"any reserved tag", call{"POST", "/v1/promises", nil, `{"id":"forged","timeout":4102444800000,"tags":{"ok":"1","reprise:other":"y"}}`}, `"reprise:other"`},
		{"create key", call{"POST", "/v1/promises", map[string]string{"Idempotency-Key": "reprise:result"}, `{"id":"forged-key","timeout":0}`}, `"reprise:result"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, ts.URL, c.call)
			checkError(t, a, http.StatusBadRequest)
			if msg := a.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, c.want) || !strings.Contains(msg, "reserved") {
				t.Fatalf("message %q does not name %s as reserved", msg, c.want)
			}
		})
	}
	for _, id := range []string{"forged-http", "forged-exec", "forged", "forged-key"} {
		checkError(t, do(t, ts.URL, call{"GET", "/v1/promises/" + id, nil, ""}), http.StatusNotFound)
	}
	// Settling with the key the host settles its results with is refused;
	// the promise stays pending.
	if a := do(t, ts.URL, call{"POST", "/v1/promises", nil, `{"id":"p","timeout":4102444800000,"tags":{"mine":"1"}}`}); a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	a := do(t, ts.URL, call{"PATCH", "/v1/promises/p", map[string]string{"Idempotency-Key": "reprise:http"}, `{"state":"RESOLVED"}`})
	checkError(t, a, http.StatusBadRequest)
	if p := do(t, ts.URL, call{"GET", "/v1/promises/p", nil, ""}).json(t); p["state"] != "PENDING" {
		t.Fatalf("after the refused settle: %v", p)
	}
	// Searching by them is reading one's own: allowed.
	if a := do(t, ts.URL, call{"GET", "/v1/promises?tags[reprise:kind]=http", nil, ""}); a.status != http.StatusOK {
		t.Fatalf("search by a reserved tag: %d %s", a.status, a.body)
	}
}

func TestHistoryOfUnknownExecutionOrAttemptIsNotFound(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	if a := do(t, ts.URL, call{"PUT", "/v1/functions/echo", nil, string(echoModule())}); a.status != http.StatusCreated {
		t.Fatalf("deploy: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"POST", "/v1/functions/echo/invoke?id=e1&wait=10s", nil, `1`}); a.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", a.status, a.body)
	}
	if a := do(t, ts.URL, call{"GET", "/v1/executions/e1/history?attempt=1", nil, ""}); a.status != http.StatusOK {
		t.Fatalf("history of attempt 1: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/v1/executions/nope/history", "/v1/executions/nope/history?attempt=1", "/v1/executions/e1/history?attempt=2"} {
		t.Run(path, func(t *testing.T) { checkError(t, do(t, ts.URL, call{"GET", path, nil, ""}), http.StatusNotFound) })
	}
}

// What net/http would answer in plain text or with a redirect is answered
// in the API's JSON error form.
func TestHeaderAndPathErrorsAreJSON(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	srv := HTTPServer("", ts.Config.Handler, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()

	// 70 KB of headers: over the API's 64 KiB, under net/http's backstop.
	a := do(t, base, call{"GET", "/v1/functions", map[string]string{"X-Big": strings.Repeat("x", 70_000)}, ""})
	checkError(t, a, http.StatusRequestHeaderFieldsTooLarge)
	if !strings.Contains(string(a.body), fmt.Sprint(DefaultMaxHeaderBytes)) {
		t.Fatalf("431 does not name the limit: %s", a.body)
	}
	// Paths the mux would redirect to their cleaned form (307/301).
	for _, c := range []call{
		{"PUT", "/v1/functions/..", nil, "x"},
		{"PUT", "/v1/functions/a/../b", nil, "x"},
		{"GET", "/v1//functions", nil, ""},
		{"GET", "/v1", nil, ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			// Sent raw: a client would clean the path itself.
			checkError(t, rawRequest(t, ln.Addr().String(), c.method, c.path), http.StatusNotFound)
		})
	}
}

// rawRequest sends a request with its path exactly as given.
func rawRequest(t *testing.T, addr, method, path string) answer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return answer{resp.StatusCode, resp.Header, []byte(b.String())}
}

// Searches spend a token each from the tenant's search_rate bucket (bursts
// of twice the rate); past it, 429 naming the limit, with Retry-After. Other
// requests are not limited by it.
func TestSearchRateLimit(t *testing.T) {
	tok := "rpr_searcher-0123456789abcdef"
	auth := bearerHeader(tok)
	ts := newTenantServer(t, testTenant{name: "searcher", token: tok, limits: tenant.Limits{SearchRate: 1}})
	var refused answer
	served := 0
	for _, path := range []string{"/v1/promises", "/v1/executions", "/v1/promises?id=a*"} {
		a := do(t, ts.URL, call{"GET", path, auth, ""})
		if a.status == http.StatusTooManyRequests {
			refused = a
			break
		}
		served++
	}
	if served != 2 || refused.status != http.StatusTooManyRequests {
		t.Fatalf("served %d searches at search_rate=1 (burst 2), then %d %s", served, refused.status, refused.body)
	}
	checkError(t, refused, http.StatusTooManyRequests)
	if e := refused.json(t)["error"].(map[string]any); e["limit"] != tenant.LimitSearchRate || refused.header.Get("Retry-After") == "" {
		t.Fatalf("429 %v (Retry-After %q) does not name %s", e, refused.header.Get("Retry-After"), tenant.LimitSearchRate)
	}
	if a := do(t, ts.URL, call{"GET", "/v1/functions", auth, ""}); a.status != http.StatusOK {
		t.Fatalf("a non-search request after the limit: %d %s", a.status, a.body)
	}
}
