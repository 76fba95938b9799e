package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// wazeroEngine is the engine the tests' hosts run on.
func wazeroEngine(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
	return wazeroengine.New(ctx, cfg)
}

// newTestServer runs a Server on a real host and Badger store in a temporary
// directory, behind an httptest server.
func newTestServer(t testing.TB, cfg Config) (*httptest.Server, *host.Host) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := badgerstore.Open(t.TempDir(), badgerstore.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Config{Store: db, Logger: log, NewEngine: wazeroEngine})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	cfg.Logger = log
	ts := httptest.NewServer(New(h, cfg))
	t.Cleanup(func() {
		ts.Close()
		h.Close(context.Background())
		db.Close()
	})
	return ts, h
}

// call is one HTTP request of a test and what it answered.
type call struct {
	method, path string
	header       map[string]string
	body         string
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as an object.
func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", a.body, err)
	}
	return m
}

func do(t testing.TB, base string, c call) answer {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader([]byte(c.body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// checkError asserts the error format: {"error":{"code":N,"message":"..."}}
// with N/100 the status (40304 → 403).
func checkError(t testing.TB, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	var e struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == nil || e.Error.Message == "" {
		t.Fatalf("error body %q is not {\"error\":{\"code\",\"message\"}}: %v", a.body, err)
	}
	if e.Error.Code/100 != status {
		t.Fatalf("error code %d does not match status %d", e.Error.Code, status)
	}
}
