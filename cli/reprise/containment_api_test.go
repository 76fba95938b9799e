package main

// Containment of the API's side channels (issue 10, findings 9, 10, 11 and
// 14): what one tenant can learn of another, or make the server do, through
// the API itself.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/client"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// cacheFiles lists the files under dir (none if it does not exist).
func cacheFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && !d.IsDir() {
			files[p] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// servedOnce waits until the quiet load has had a call answered, so an
// attack shorter than one call still shows the quiet tenant served.
func servedOnce(t *testing.T, l *quietLoad) {
	t.Helper()
	eventually(t, "the quiet tenant has a call answered", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.latencies) > 0 || len(l.failures) > 0
	})
}

func added(before, after map[string]bool) []string {
	var out []string
	for f := range after {
		if !before[f] {
			out = append(out, f)
		}
	}
	return out
}

// Finding 9: a deploy's time told a tenant whether another had deployed the
// same bytes, since the compiled code was cached for all of them. Now each
// tenant's is its own: the attacker's deploy of bytes only the quiet tenant
// deployed compiles them (its own cache gains the code) and leaves the
// quiet tenant's cache alone. Shown by the cache directories, not by timing.
func TestContainmentDeployDoesNotRevealAnotherTenantsModules(t *testing.T) {
	t.Parallel()
	a := startArena(t, nil)
	// Bytes no test has deployed before: a data segment of random bytes.
	nonce := make([]byte, 16)
	rand.Read(nonce)
	m := wt.Module{Memory: 1, Data: []wt.Data{{Offset: 0, Bytes: nonce}}}
	m.Funcs = []wt.Func{{Export: abi.DefaultEntry}}
	wasmFile := filepath.Join(t.TempDir(), "unique.wasm")
	if err := os.WriteFile(wasmFile, m.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	quietDir := filepath.Join(cacheDir, "tenants", "quiet")
	attackerDir := filepath.Join(cacheDir, "tenants", a.attackerID)

	q0, a0 := cacheFiles(t, quietDir), cacheFiles(t, attackerDir)
	a.quiet.ok(t, "deploy", "secret", wasmFile)
	q1, a1 := cacheFiles(t, quietDir), cacheFiles(t, attackerDir)
	if len(added(q0, q1)) == 0 {
		t.Fatalf("the quiet tenant's deploy added nothing to its cache %s", quietDir)
	}
	if n := added(a0, a1); len(n) != 0 {
		t.Fatalf("the quiet tenant's deploy wrote to the attacker's cache: %v", n)
	}

	load := a.quiet.keepInvoking(t)
	a.ok(t, "deploy", "probe", wasmFile) // the same bytes
	q2, a2 := cacheFiles(t, quietDir), cacheFiles(t, attackerDir)
	if len(added(a1, a2)) == 0 {
		t.Fatalf("the attacker's deploy of bytes the quiet tenant deployed added nothing to its own cache %s: it was answered from a cache it shares", attackerDir)
	}
	if n := added(q1, q2); len(n) != 0 {
		t.Fatalf("the attacker's deploy wrote to the quiet tenant's cache: %v", n)
	}
	for f := range a2 {
		if q2[f] {
			t.Fatalf("the tenants share the cache file %s", f)
		}
	}
	servedOnce(t, load)
	load.requireServed(t)
	a.requirePeakUnder(t, 512<<20, "deploys of one module by two tenants")
}

// Finding 10: reprise: tags are the host's. A promise tagged as an HTTP
// intent, with a request as its param, made the server send the request on
// its next start; one tagged with a function was listed as an execution.
// Now both are refused with 400 naming the tag, nothing is created, and
// after a kill -9 and a restart nothing is sent.
func TestContainmentReservedTagsAreRefused(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	a := startArena(t, []string{"--http-allow", "127.0.0.1"})
	c := a.client(t)
	ctx := context.Background()
	load := a.quiet.keepInvoking(t)

	req, _ := json.Marshal(abi.HTTPRequest{Method: "POST", URL: target.URL + "/transfer", Idempotent: true})
	never := time.Now().Add(24 * time.Hour).UnixMilli()
	for _, cp := range []client.CreatePromise{
		{ID: "forged-http", Timeout: never, Tags: map[string]string{"reprise:kind": "http"}, Param: client.Value{Data: req}},
		{ID: "forged-exec", Timeout: never, Tags: map[string]string{"reprise:function": "hello"}},
	} {
		_, _, err := c.CreatePromise(ctx, cp)
		var e *client.Error
		tag := ""
		for k := range cp.Tags {
			tag = k
		}
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || !strings.Contains(e.Message, tag) {
			t.Fatalf("create %s tagged %s: %v, want 400 naming the tag", cp.ID, tag, err)
		}
		if _, err := c.Promise(ctx, cp.ID); !client.IsNotFound(err) {
			t.Fatalf("%s exists after its create was refused: %v", cp.ID, err)
		}
	}
	if es, _, err := c.Executions(ctx, "hello", client.Query{}); err != nil || len(es) != 0 {
		t.Fatalf("the attacker's executions of hello: %v, %v", es, err)
	}
	servedOnce(t, load)
	load.requireServed(t)

	a.proc.Process.Signal(syscall.SIGKILL)
	a.proc.Wait()
	s2 := startServe(t, a.data, a.token)
	if _, err := s2.client(t).Promise(ctx, "forged-http"); !client.IsNotFound(err) {
		t.Fatalf("after the restart, forged-http: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server sent %d requests nobody's guest made", n)
	}
}

// Finding 11: "*" + 150 a's + "b" over long ids cost the backtracking
// matcher O(pattern·id) per id, inside the committer, so four searches at
// once stalled the tenant's other calls. Bounds this test holds: a page
// examines at most 10,000 ids (the store's default), so 12,000 ids take two
// pages and the first ends with a cursor; searches are limited to the
// default 50 pages/s (bursts of 100), past which they get 429 naming
// search_rate; the attacker's other calls and the quiet tenant's are served
// meanwhile; the server stays under 1 GiB.
func TestContainmentPathologicalGlobIsBounded(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--rate", "100000", "--burst", "100000"})
	c := a.client(t)
	ctx := context.Background()
	const n = 12_000
	long := strings.Repeat("a", 240)
	never := time.Now().Add(24 * time.Hour).UnixMilli()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, _, err := c.CreatePromise(ctx, client.CreatePromise{ID: fmt.Sprintf("%s%06d", long, i), Timeout: never}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create the ids: %v", err)
	}

	pattern := "*" + strings.Repeat("a", 150) + "b"
	load := a.quiet.keepInvoking(t)
	stop := make(chan struct{})
	var (
		mu          sync.Mutex // guards the counts below
		traversals  int
		badPages    []string
		refused     int
		refusedMsg  string
		otherErrors []string
	)
	var searchers sync.WaitGroup
	for range 4 {
		searchers.Go(func() {
			for {
				cursor, pages := "", 0
				for {
					select {
					case <-stop:
						return
					default:
					}
					page, next, err := c.Promises(ctx, client.Query{ID: pattern, Cursor: cursor})
					var e *client.Error
					mu.Lock()
					switch {
					case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
						refused++
						refusedMsg = e.Message
					case err != nil:
						otherErrors = append(otherErrors, err.Error())
					case len(page) != 0:
						badPages = append(badPages, fmt.Sprintf("%d matches of a glob nothing matches", len(page)))
					default:
						pages++
						cursor = next
					}
					mu.Unlock()
					if err != nil {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if cursor == "" {
						break
					}
				}
				mu.Lock()
				traversals++
				if pages != 2 {
					badPages = append(badPages, fmt.Sprintf("%d ids in %d pages, want 2 of at most 10,000", n, pages))
				}
				mu.Unlock()
			}
		})
	}
	// Meanwhile the attacker's own trivial calls are answered. (The
	// deadline only keeps a stalled server from holding the test for
	// minutes; before the fix these calls took that long.)
	during, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := range 20 {
		if _, _, err := c.CreatePromise(during, client.CreatePromise{ID: fmt.Sprintf("during-%d", i), Timeout: never}); err != nil {
			t.Errorf("the attacker's create during the searches: %v", err)
			break
		}
		if _, err := c.Promise(during, fmt.Sprintf("during-%d", i)); err != nil {
			t.Errorf("the attacker's read during the searches: %v", err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	searchers.Wait()
	p50, p99 := load.requireServed(t)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d traversals of %d ids, %d searches refused; quiet p50 %v p99 %v", traversals, n, refused, p50, p99)
	for _, b := range badPages {
		t.Error(b)
	}
	for _, e := range otherErrors {
		t.Errorf("search: %s", e)
	}
	if traversals == 0 {
		t.Errorf("no search went through the %d ids", n)
	}
	if refused == 0 || !strings.Contains(refusedMsg, "search_rate") {
		t.Errorf("%d searches refused (%q): four searchers in a loop should pass 50 pages/s and get 429 naming search_rate", refused, refusedMsg)
	}
	a.requirePeakUnder(t, 1<<30, "pathological glob searches")
}

// Finding 14: answers that were not the API's JSON error form, or were
// wrong: history of an unknown execution's attempt (200, empty), a 70 KB
// header (plain-text 431), a path with .. (a 307 redirect).
func TestContainmentErrorsAreJSON(t *testing.T) {
	t.Parallel()
	a := startArena(t, nil)
	auth := "Bearer " + a.token
	send := func(method, path string, header map[string]string) (int, []byte) {
		req, err := http.NewRequest(method, a.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	raw := func(method, path string) (int, []byte) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, path, auth)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	isJSONError := func(what string, status int, body []byte, want int) {
		t.Helper()
		var e struct {
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if status != want || json.Unmarshal(body, &e) != nil || e.Error == nil || e.Error.Code/100 != want || e.Error.Message == "" {
			t.Errorf("%s: %d %q, want %d in the API's JSON error form", what, status, body, want)
		}
	}
	id := "x" + hex.EncodeToString([]byte("unknown"))
	st, b := send("GET", "/v1/executions/"+id+"/history?attempt=1", nil)
	isJSONError("history of an unknown execution's attempt", st, b, http.StatusNotFound)
	st, b = send("GET", "/v1/functions", map[string]string{"X-Padding": strings.Repeat("x", 75_000)})
	isJSONError("a 75 KB header", st, b, http.StatusRequestHeaderFieldsTooLarge)
	st, b = raw("PUT", "/v1/functions/..")
	isJSONError("PUT /v1/functions/..", st, b, http.StatusNotFound)
	st, b = raw("GET", "/v1/functions/hello/../hello")
	isJSONError("GET /v1/functions/hello/../hello", st, b, http.StatusNotFound)

	// The quiet tenant's execution has a history; one more attempt than it
	// made is 404 too.
	inv, err := a.quiet.client(t).Invoke(context.Background(), "hello", []byte(`{"name":"q"}`), client.InvokeOptions{Wait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", a.url+"/v1/executions/"+inv.ID+"/history?attempt=2", nil)
	req.Header.Set("Authorization", "Bearer "+a.quiet.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	isJSONError("attempt 2 of an execution that made one", resp.StatusCode, b, http.StatusNotFound)
}

// A listing longer than the tenant's search rate allows at once waits for
// it: `reprise ls --server` with search_rate 1 (bursts of 2) reads 250
// promises in 3 pages, and waits when the server answers 429 naming
// search_rate instead of failing.
func TestContainmentListWaitsForTheSearchRate(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--search-rate", "1", "--rate", "1000", "--burst", "1000"})
	c := a.client(t)
	ctx := context.Background()
	never := time.Now().Add(24 * time.Hour).UnixMilli()
	for i := range 250 {
		if _, _, err := c.CreatePromise(ctx, client.CreatePromise{ID: fmt.Sprintf("p%03d", i), Timeout: never}); err != nil {
			t.Fatal(err)
		}
	}
	// Twice: six pages, where the bucket holds two and gains one a second.
	for range 2 {
		out := a.ok(t, "ls", "--limit", "0", "--json")
		var ps []map[string]any
		if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) != 250 {
			t.Fatalf("ls listed %d promises (%v), want 250", len(ps), err)
		}
	}
}
