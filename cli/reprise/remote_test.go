package main

// End-to-end tests of --server: a real `reprise serve` subprocess, driven by
// the CLI binary over HTTP. The CLI commands get the server's own data
// directory as --data: the server holds its lock, so a command that opened
// the store instead of speaking to the server would fail with exit code 3.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a running `reprise serve --no-auth`.
type server struct {
	url   string // http://127.0.0.1:PORT
	data  string // its data directory
	token string // the tenant's, when the server authenticates
	proc  *exec.Cmd
	// stdout and stderr are what the server printed after its first line,
	// and its log.
	stdout, stderr *syncBuffer
}

// startServer starts `reprise serve` on a new data directory and waits until
// it is ready; it is killed when the test ends.
func startServer(t *testing.T) server {
	t.Helper()
	return startServe(t, t.TempDir(), "", "--no-auth")
}

// startTenantServer creates a tenant and starts `reprise serve` with
// authentication; the server's commands carry the tenant's token.
func startTenantServer(t *testing.T) server {
	t.Helper()
	data := t.TempDir()
	token := strings.TrimSpace(ok(t, data, "tenant", "create", "acme"))
	return startServe(t, data, token)
}

func startServe(t *testing.T, data, token string, flags ...string) server {
	t.Helper()
	c := repriseCmd(context.Background(), data, append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(syncBuffer)
	c.Stderr = stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if !strings.HasPrefix(line, "listening on http://") {
		t.Fatalf("reprise serve printed %q (%v); stderr:\n%s", line, err, stderr.String())
	}
	rest := new(syncBuffer)
	go io.Copy(rest, out)
	s := server{url: strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), data: data, token: token, proc: c, stdout: rest, stderr: stderr}
	eventually(t, "the server is ready", func() bool {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// syncBuffer is a bytes.Buffer safe to write from the exec package's copier
// while a test reads it.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// eventually polls ok for up to 30s: with --server, the server runs the
// executions after a command returns.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); !ok(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// args prepends --server (and --token) to a command line.
func (s server) args(args ...string) []string {
	pre := []string{"--server", s.url}
	if s.token != "" {
		pre = append(pre, "--token", s.token)
	}
	return append(pre, args...)
}

// ok runs a command against the server and requires success.
func (s server) ok(t *testing.T, args ...string) string {
	t.Helper()
	return ok(t, s.data, s.args(args...)...)
}

func (s server) fails(t *testing.T, code int, args []string, msgs ...string) result {
	t.Helper()
	return fails(t, code, s.data, s.args(args...), msgs...)
}

func (s server) get(t *testing.T, id string) promiseJSON {
	t.Helper()
	var p promiseJSON
	if err := json.Unmarshal([]byte(s.ok(t, "get", id)), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// settled waits until execution id is no longer pending and returns it.
func (s server) settled(t *testing.T, id string) promiseJSON {
	t.Helper()
	var p promiseJSON
	eventually(t, id+" settles", func() bool {
		p = s.get(t, id)
		return p.State != "PENDING"
	})
	return p
}

// pending waits until promise id exists and is pending.
func (s server) pending(t *testing.T, id string) {
	t.Helper()
	eventually(t, id+" is pending", func() bool {
		r := reprise(t, s.data, s.args("get", id)...)
		return r.code == 0 && strings.Contains(r.stdout, `"PENDING"`)
	})
}

func TestRemoteDeployFunctionsInvokeGetHistoryLs(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	if h := s.ok(t, "deploy", "hello", wasm["hello"]); h != sha256File(t, wasm["hello"]) {
		t.Fatalf("deploy printed %q, want the module's sha256", h)
	}
	var fns []struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Module  string `json:"module"`
		Entry   string `json:"entry"`
	}
	if err := json.Unmarshal([]byte(s.ok(t, "functions", "--json")), &fns); err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 || fns[0].Name != "hello" || fns[0].Version != 1 || fns[0].Module != sha256File(t, wasm["hello"]) || fns[0].Entry != "run" {
		t.Fatalf("functions --json: %+v", fns)
	}
	if table := s.ok(t, "functions"); !strings.Contains(table, "NAME") || !strings.Contains(table, "hello") {
		t.Errorf("functions:\n%s", table)
	}

	// invoke --wait prints the result; the same --id is the same execution.
	if out := s.ok(t, "invoke", "hello", "--input", `{"name":"Ada"}`, "--wait"); out != `{"greeting":"Hello, Ada!"}` {
		t.Fatalf("invoke --wait printed %q", out)
	}
	first := s.ok(t, "invoke", "hello", "--id", "greet-1", "--input", `{"name":"Ada"}`, "--wait")
	second := s.ok(t, "invoke", "hello", "--id", "greet-1", "--input", `{"name":"Bob"}`, "--wait")
	if first != `{"greeting":"Hello, Ada!"}` || second != first {
		t.Fatalf("first %q, second %q: the same id must be the same execution", first, second)
	}
	if id := s.ok(t, "invoke", "hello", "--id", "greet-1"); id != "greet-1" {
		t.Fatalf("invoke of an existing id printed %q", id)
	}

	// Without --wait: the id at once, then get shows the execution.
	id := s.ok(t, "invoke", "hello", "--input", `{"name":"Lin"}`)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("invoke printed %q", id)
	}
	p := s.settled(t, id)
	if p.ID != id || p.State != "RESOLVED" || compact(p.Value) != `{"greeting":"Hello, Lin!"}` || compact(p.Param) != `{"name":"Lin"}` ||
		p.Execution == nil || p.Execution.Function != "hello" || p.Execution.Module != fns[0].Module || p.Execution.Attempt != 1 ||
		p.CreatedOn == "" || p.CompletedOn == "" {
		t.Fatalf("get: %+v %+v", p, p.Execution)
	}

	// A fan-out: history lists the children, ls the newest first.
	s.ok(t, "deploy", "square", wasm["square"])
	s.ok(t, "deploy", "fanout", wasm["fanout"])
	if out := s.ok(t, "invoke", "fanout", "--id", "fan", "--input", `{"n":5,"child":"square"}`, "--wait"); out != `{"n":5,"sum":55}` {
		t.Fatalf("fanout printed %q", out)
	}
	var h historyJSON
	if err := json.Unmarshal([]byte(s.ok(t, "history", "--json", "fan")), &h); err != nil {
		t.Fatal(err)
	}
	requireSeqsOnce(t, h)
	if h.ID != "fan" || h.State != "RESOLVED" || len(h.Steps) != 5 {
		t.Fatalf("history: %+v", h)
	}
	for i, st := range h.Steps {
		if st.Op != "invoke" || st.Child != fmt.Sprintf("fan.%d", i+1) || st.Outcome != "RESOLVED" {
			t.Errorf("step %d: %+v", i+1, st)
		}
	}
	lines := strings.Split(s.ok(t, "history", "fan"), "\n")
	if len(lines) != 7 || !strings.Contains(lines[0], "fanout") || !strings.Contains(lines[1], "SEQ") {
		t.Fatalf("history:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) != 6 || f[2] != "invoke" || !strings.HasPrefix(f[3], "fan.") || f[4] != "RESOLVED" {
			t.Errorf("history line %q", l)
		}
	}
	var ps []promiseJSON
	if err := json.Unmarshal([]byte(s.ok(t, "ls", "--json", "--limit", "3")), &ps); err != nil {
		t.Fatal(err)
	}
	if ids := []string{ps[0].ID, ps[1].ID, ps[2].ID}; len(ps) != 3 || !slices.Equal(ids, []string{"fan.5", "fan.4", "fan.3"}) {
		t.Errorf("ls --limit 3: %+v", ps)
	}
	r := reprise(t, s.data, s.args("ls", "--limit", "2")...)
	if r.code != 0 || len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 3 || !strings.Contains(r.stderr, "showing the newest 2 of 9") {
		t.Errorf("ls --limit 2: %s", r)
	}
	ps = nil
	if err := json.Unmarshal([]byte(s.ok(t, "ls", "--function", "hello", "--json", "--limit", "0")), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || !slices.ContainsFunc(ps, func(p promiseJSON) bool { return p.ID == "greet-1" }) {
		t.Errorf("ls --function hello: %+v", ps)
	}
	if out := s.ok(t, "ls", "--state", "resolved", "--function", "fanout"); !strings.Contains(out, "execution of fanout") || strings.Contains(out, "fan.1") {
		t.Errorf("ls --state resolved --function fanout:\n%s", out)
	}

	// REPRISE_SERVER instead of --server.
	c := repriseCmd(t.Context(), s.data, "functions")
	c.Env = append(c.Env, "REPRISE_SERVER="+s.url)
	out, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fanout") {
		t.Fatalf("REPRISE_SERVER: %v\n%s", err, out)
	}
}

func TestRemoteApprovalResolveRejectCancel(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "deploy", "approval", wasm["approval"])

	// The walkthrough: invoke, find the pending promise, resolve it.
	id := s.ok(t, "invoke", "approval", "--input", `{"request":"deploy"}`)
	approval := id + ".1"
	s.pending(t, approval)
	if out := s.ok(t, "ls", "--state", "pending"); !strings.Contains(out, approval) || !strings.Contains(out, "execution of approval") {
		t.Fatalf("ls --state pending:\n%s", out)
	}
	if out := s.ok(t, "resolve", approval, "--value", `"alice"`); out != approval+" RESOLVED" {
		t.Errorf("resolve printed %q", out)
	}
	p := s.settled(t, id)
	var v struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	if err := json.Unmarshal(p.Value, &v); p.State != "RESOLVED" || err != nil || !v.Approved || v.By != "alice" {
		t.Fatalf("after resolve: %+v (%v)", p, err)
	}
	s.ok(t, "resolve", approval, "--value", `"alice"`) // the same again: a no-op
	s.fails(t, 1, []string{"reject", approval}, approval+" is already RESOLVED")

	// Reject.
	id = s.ok(t, "invoke", "approval", "--input", `{"request":"drop tables"}`)
	s.pending(t, id+".1")
	if out := s.ok(t, "reject", id+".1", "--value", `{"error":"not on a Friday"}`); out != id+".1 REJECTED" {
		t.Errorf("reject printed %q", out)
	}
	if p := s.settled(t, id); p.State != "RESOLVED" || !strings.Contains(compact(p.Value), `"approved":false`) || !strings.Contains(compact(p.Value), "not on a Friday") {
		t.Fatalf("after reject: %+v", p)
	}
	if out := s.ok(t, "ls", "--state", "rejected"); !strings.Contains(out, id+".1") {
		t.Errorf("ls --state rejected:\n%s", out)
	}

	// Cancel an execution, then a pending promise.
	s.ok(t, "invoke", "approval", "--id", "req-7")
	if out := s.ok(t, "cancel", "req-7"); out != "req-7 REJECTED_CANCELED" {
		t.Errorf("cancel printed %q", out)
	}
	if p := s.get(t, "req-7"); p.State != "REJECTED_CANCELED" {
		t.Fatalf("after cancel: %+v", p)
	}
	s.fails(t, 1, []string{"invoke", "approval", "--id", "req-7", "--wait"}, "execution req-7 was canceled")
	s.fails(t, 1, []string{"cancel", "req-7"}, "already REJECTED_CANCELED")
	s.ok(t, "invoke", "approval", "--id", "req-8")
	s.pending(t, "req-8.1")
	if out := s.ok(t, "cancel", "req-8.1"); out != "req-8.1 REJECTED_CANCELED" {
		t.Errorf("cancel of a promise printed %q", out)
	}
	s.settled(t, "req-8")
	if out := s.ok(t, "ls", "--state", "canceled"); !strings.Contains(out, "req-7") || !strings.Contains(out, "req-8.1") || strings.Contains(out, id) {
		t.Errorf("ls --state canceled:\n%s", out)
	}
}

func TestRemoteRunDeploysThenWaits(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	if out := s.ok(t, "run", wasm["fanout"], wasm["square"], "--input", `{"n":100,"child":"square"}`); out != `{"n":100,"sum":338350}` {
		t.Fatalf("run printed %q", out)
	}
	// A Go guest directory is built here, then deployed; running it again
	// deploys no new version.
	dir := filepath.Join(examples, "hello")
	if out := s.ok(t, "run", dir, "--input", `{"name":"Ada"}`); out != `{"greeting":"Hello, Ada!"}` {
		t.Fatalf("run of a directory printed %q", out)
	}
	s.ok(t, "run", dir)
	if out := s.ok(t, "functions", "--json"); strings.Count(out, `"version": 1`) != 3 {
		t.Errorf("functions after runs:\n%s", out)
	}
	s.fails(t, 1, []string{"run", wasm["httpcall"], "--input", `{"url":"http://127.0.0.1:1/"}`}, "was rejected", "start it with --allow-http")
}

func TestRemoteBadInputsAndUnknownIDs(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "deploy", "approval", wasm["approval"])
	id := s.ok(t, "invoke", "approval")
	s.pending(t, id+".1")

	tmp := t.TempDir()
	notWasm := filepath.Join(tmp, "notes.wasm")
	os.WriteFile(notWasm, []byte("just text"), 0o644)
	v2 := filepath.Join(tmp, "future.wasm")
	os.WriteFile(v2, abiV2Module(), 0o644)

	for _, tc := range []struct {
		args []string
		code int
		msgs []string
	}{
		{[]string{"invoke", "approval", "--input", `{"name":`}, 2, []string{"--input is not valid JSON"}},
		{[]string{"resolve", id + ".1", "--value", `alice`}, 2, []string{"--value is not valid JSON"}},
		{[]string{"run", notWasm}, 2, []string{"not WebAssembly", notWasm}},
		{[]string{"deploy", "future", v2}, 2, []string{"reprise_v2", "ABI v1"}},
		{[]string{"deploy", "a/b", wasm["hello"]}, 2, []string{`"a/b"`, "names may not contain"}},
		{[]string{"invoke", "approval", "--id", "bad*id"}, 2, []string{"--id", `"bad*id"`}},
		{[]string{"invoke", "approval", "--timeout", "300ms", "--wait"}, 1, []string{"timed out"}},
		{[]string{"history", id + ".1"}, 2, []string{"is a promise, not an execution"}},
		{[]string{"history", id, "--attempt", "3"}, 2, []string{"has 1 attempt(s)"}},
		{[]string{"ls", "--state", "done"}, 2, []string{"--state"}},
		{[]string{"worker"}, 2, []string{"cannot be used with --server"}},
		{[]string{"serve"}, 2, []string{"cannot be used with --server"}},
		{[]string{"tenant", "create", "acme"}, 2, []string{"cannot be used with --server", "--data"}},
		{[]string{"invoke", "nosuch"}, 4, []string{`unknown function "nosuch"`, "reprise functions"}},
		{[]string{"run", "--id", "x", wasm["hello"], "--input", "1"}, 1, []string{"execution x was rejected", "decoding input"}},
		{[]string{"get", "nosuch"}, 4, []string{`no execution or promise with id "nosuch" on server ` + s.url, "--server", "tenant's retention"}},
		{[]string{"history", "nosuch"}, 4, []string{`"nosuch"`}},
		{[]string{"resolve", "nosuch.1"}, 4, []string{`no promise with id "nosuch.1"`}},
		{[]string{"reject", "nosuch.1"}, 4, []string{`no promise with id "nosuch.1"`}},
		{[]string{"cancel", "nosuch"}, 4, []string{`"nosuch"`}},
	} {
		s.fails(t, tc.code, tc.args, tc.msgs...)
	}
	if fns := s.ok(t, "functions"); strings.Contains(fns, "future") || strings.Contains(fns, "notes") {
		t.Errorf("a refused module was deployed:\n%s", fns)
	}
}

func TestRemoteUnreachableServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	for _, args := range [][]string{{"functions"}, {"get", "x"}, {"invoke", "hello", "--wait"}, {"deploy", "hello", wasm["hello"]}} {
		fails(t, 1, data, append([]string{"--server", u}, args...), "cannot reach the server at "+u, "REPRISE_SERVER")
	}
}

func TestRemoteSendsTheToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	// A proxy in front of the real server records what it is sent.
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")]++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer ts.Close()
	if out := ok(t, s.data, "--server", ts.URL, "--token", "tok-flag", "run", wasm["hello"]); out != `{"greeting":"Hello, world!"}` {
		t.Fatalf("run through the proxy printed %q", out)
	}
	c := repriseCmd(t.Context(), s.data, "--server", ts.URL, "functions")
	c.Env = append(c.Env, "REPRISE_TOKEN=tok-env")
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "hello") {
		t.Fatalf("functions with REPRISE_TOKEN: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen["Bearer tok-flag"] < 3 || seen["Bearer tok-env"] != 1 {
		t.Fatalf("Authorization headers seen: %v", seen)
	}
}

func TestRemoteRefusedTokenSaysWhatToDo(t *testing.T) {
	t.Parallel()
	// A server with tenant authentication refuses an unknown token with 401.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":40100,"message":"unknown or revoked token"}}`)
	}))
	defer ts.Close()
	data := t.TempDir()
	for _, args := range [][]string{
		{"--token", "tok-secret-1", "functions"},
		{"--token", "tok-secret-1", "invoke", "hello", "--wait"},
		{"--token", "tok-secret-1", "get", "x"},
		{"functions"},
	} {
		r := fails(t, 1, data, append([]string{"--server", ts.URL}, args...),
			"the server refused the token", "set --token or REPRISE_TOKEN to a token from `reprise tenant create`")
		if strings.Contains(r.stderr, "tok-secret-1") || strings.Contains(r.stdout, "tok-secret-1") {
			t.Errorf("%v: the token is shown: %s", args, r)
		}
	}
}

// TestRemoteWithTenantTokens drives a server that authenticates: commands
// carrying the tenant's token work, a wrong or missing token is refused
// with the documented message, and a second tenant sees nothing of the
// first.
func TestRemoteWithTenantTokens(t *testing.T) {
	t.Parallel()
	s := startTenantServer(t)
	s.ok(t, "deploy", "hello", wasm["hello"])
	if out := s.ok(t, "invoke", "hello", "--id", "greet", "--input", `{"name":"Ada"}`, "--wait"); !strings.Contains(out, "Ada") {
		t.Fatalf("invoke with a token: %s", out)
	}
	for _, bad := range []server{{url: s.url, data: s.data, token: "rpr_not-a-real-token-0123456789"}, {url: s.url, data: s.data}} {
		bad.fails(t, 1, []string{"functions"}, "the server refused the token")
	}
	other := s
	other.token = strings.TrimSpace(ok(t, s.data, "tenant", "create", "globex"))
	eventually(t, "the new tenant is served", func() bool { return reprise(t, s.data, other.args("functions")...).code == 0 })
	other.fails(t, 4, []string{"get", "greet"}, `"greet"`)
	if fns := other.ok(t, "functions"); strings.Contains(fns, "hello") {
		t.Fatalf("globex sees acme's functions:\n%s", fns)
	}
}

// TestRemoteKill9OfTheServerMidExecution: the CLI starts an execution on a
// server, the server is killed with SIGKILL while the execution sleeps, a
// new server on the same data directory resumes it, and the CLI waiting on
// the same id prints the result.
func TestRemoteKill9OfTheServerMidExecution(t *testing.T) {
	t.Parallel()
	s := startTenantServer(t)
	s.ok(t, "deploy", "sleep", wasm["sleep"])
	if id := strings.TrimSpace(s.ok(t, "invoke", "sleep", "--id", "nap", "--input", `{"ms":1500}`)); id != "nap" {
		t.Fatalf("invoke printed %q", id)
	}
	eventually(t, "the sleep is journaled", func() bool {
		return strings.Contains(reprise(t, s.data, s.args("history", "nap")...).stdout, "sleep")
	})
	s.proc.Process.Signal(syscall.SIGKILL)
	s.proc.Wait()

	s2 := startServe(t, s.data, s.token)
	out := s2.ok(t, "invoke", "sleep", "--id", "nap", "--input", `{"ms":1500}`, "--wait")
	var res struct {
		SleptMS int64 `json:"slept_ms"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.SleptMS < 1500 {
		t.Fatalf("result after the restart: %q (%v)", out, err)
	}
	// The sleep's promise (child nap.2) is journaled once: replay did not
	// sleep again from the start.
	if h := s2.ok(t, "history", "nap"); strings.Count(h, "nap.2") != 1 {
		t.Fatalf("the sleep step is not journaled exactly once:\n%s", h)
	}
}

// TestTenantRetentionPurgesOnTheServer gives a tenant a retention of one
// second: `reprise serve` passes it to the tenant's host, which purges a
// finished execution once it has passed, and `reprise get` of it then
// exits 4 saying that finished executions are removed after the tenant's
// retention.
func TestTenantRetentionPurgesOnTheServer(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	token := strings.TrimSpace(ok(t, data, "tenant", "create", "acme", "--retention", "1s"))
	if ls := ok(t, data, "tenant", "ls"); !strings.Contains(ls, "retention=1s") {
		t.Fatalf("tenant ls does not show the retention:\n%s", ls)
	}
	fails(t, 2, data, []string{"tenant", "set", "acme", "--retention", "soon"}, "--retention", "30d", "forever")
	s := startServe(t, data, token)
	s.ok(t, "run", "--id", "brief", wasm["hello"], "--input", `{"name":"Ada"}`)
	eventually(t, "brief is purged", func() bool { return reprise(t, s.data, s.args("get", "brief")...).code == 4 })
	s.fails(t, 4, []string{"get", "brief"}, `no execution or promise with id "brief"`, "tenant's retention")
}
