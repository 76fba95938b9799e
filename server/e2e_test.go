package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/wire"
)

// These tests run the real `reprise serve` binary as a subprocess and drive
// it with plain HTTP, as a user would.

// e2eGuests are the example guests the end-to-end tests deploy.
var e2eGuests = []string{"square", "approval", "sleep", "httpcall"}

var e2eBuild struct {
	once sync.Once
	dir  string
	err  error
}

// buildE2E builds the reprise binary and the e2eGuests once per test
// binary and returns their directory.
func buildE2E(t *testing.T) string {
	t.Helper()
	e2eBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "reprise-e2e-")
		if err != nil {
			e2eBuild.err = err
			return
		}
		run := func(env []string, args ...string) error {
			cmd := exec.Command("go", args...)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return nil
		}
		e2eBuild.dir, e2eBuild.err = dir, run(nil, "build", "-o", filepath.Join(dir, "reprise"), "./cli/reprise")
		for _, g := range e2eGuests {
			if e2eBuild.err == nil {
				e2eBuild.err = run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "build", "-buildmode=c-shared", "-trimpath",
					"-o", filepath.Join(dir, g+".wasm"), "./examples/wasm/"+g)
			}
		}
	})
	if e2eBuild.err != nil {
		t.Fatal(e2eBuild.err)
	}
	return e2eBuild.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuild.dir != "" {
		os.RemoveAll(e2eBuild.dir)
	}
	os.Exit(code)
}

// proc is a running `reprise serve`.
type proc struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	stdout *bufio.Reader // after the "listening on" line
}

// startServe starts `reprise serve` on data with the extra flags and waits
// until it is ready. The process is killed when owner (t or a parent test)
// ends.
func startServe(t, owner *testing.T, bin, data string, flags ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--data", data, "serve", "--addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: new(lockedBuffer)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p.stdout = bufio.NewReader(stdout)
	line, err := p.stdout.ReadString('\n')
	if !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("first line %q, %v; stderr:\n%s", line, err, p.stderr)
	}
	p.url = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	waitFor(t, 20*time.Second, "ready", func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// lockedBuffer is a bytes.Buffer the exec package's copier may write while
// a test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

func deploy(t *testing.T, base, name, file string, header ...map[string]string) {
	t.Helper()
	wasm, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": "application/wasm"}
	for _, m := range header {
		for k, v := range m {
			h[k] = v
		}
	}
	a := do(t, base, call{"PUT", "/v1/functions/" + name, h, string(wasm)})
	if a.status != 201 {
		t.Fatalf("deploy %s: %d %s", name, a.status, a.body)
	}
}

// execState reads an execution's promise state and value.
func execState(t *testing.T, base, id string, header ...map[string]string) (state string, value []byte) {
	t.Helper()
	var h map[string]string
	if len(header) > 0 {
		h = header[0]
	}
	a := do(t, base, call{"GET", "/v1/executions/" + id, h, ""})
	if a.status != 200 {
		t.Fatalf("GET execution %s: %d %s", id, a.status, a.body)
	}
	var r struct {
		Promise wire.Promise `json:"promise"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Promise.State, r.Promise.Value.Data
}

func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the reprise binary")
	}
	dir := buildE2E(t)
	bin, data := filepath.Join(dir, "reprise"), filepath.Join(t.TempDir(), "data")
	top := t
	srv := startServe(t, top, bin, data, "--no-auth")
	base := srv.url
	healthy := func() {
		t.Helper()
		if a := do(t, base, call{"GET", "/healthz", nil, ""}); a.status != 200 {
			t.Fatalf("healthz: %d", a.status)
		}
	}

	t.Run("deploy and invoke with wait", func(t *testing.T) {
		deploy(t, base, "square", filepath.Join(dir, "square.wasm"))
		a := do(t, base, call{"POST", "/v1/functions/square/invoke?wait=30s", nil, "7"})
		if a.status != 200 || string(a.body) != "49" || a.header.Get(HeaderState) != "RESOLVED" {
			t.Fatalf("invoke: %d %s %q", a.status, a.header.Get(HeaderState), a.body)
		}
		// The same Idempotency-Key is the same execution.
		key := map[string]string{"Idempotency-Key": "order-42"}
		a1 := do(t, base, call{"POST", "/v1/functions/square/invoke?wait=30s", key, "3"})
		a2 := do(t, base, call{"POST", "/v1/functions/square/invoke?wait=30s", key, "3"})
		if id := a1.header.Get(HeaderID); id == "" || id != a2.header.Get(HeaderID) || string(a2.body) != "9" {
			t.Fatalf("idempotent invoke: %s %s %q", a1.header.Get(HeaderID), a2.header.Get(HeaderID), a2.body)
		}
		if a := do(t, base, call{"GET", "/v1/functions/square", nil, ""}); a.status != 200 || a.json(t)["version"] != 1.0 {
			t.Fatalf("get function: %d %s", a.status, a.body)
		}
		if a := do(t, base, call{"GET", "/v1/executions?function=square", nil, ""}); a.status != 200 || len(a.json(t)["executions"].([]any)) != 2 {
			t.Fatalf("list executions: %d %s", a.status, a.body)
		}
	})

	t.Run("approval through the promise endpoints", func(t *testing.T) {
		deploy(t, base, "approval", filepath.Join(dir, "approval.wasm"))
		a := do(t, base, call{"POST", "/v1/functions/approval/invoke?id=approve-1", nil, `{"request":"deploy v2"}`})
		if a.status != 202 || a.json(t)["id"] != "approve-1" {
			t.Fatalf("invoke: %d %s", a.status, a.body)
		}
		// The guest's promise is the execution's child: find it by search.
		var child string
		waitFor(t, 20*time.Second, "the approval promise", func() bool {
			a := do(t, base, call{"GET", "/v1/promises?id=approve-1.*&state=pending", nil, ""})
			ps := a.json(t)["promises"].([]any)
			if len(ps) == 1 {
				child = ps[0].(map[string]any)["id"].(string)
			}
			return child != ""
		})
		if a := do(t, base, call{"GET", "/v1/executions/approve-1/history", nil, ""}); a.status != 200 || !strings.Contains(string(a.body), child) {
			t.Fatalf("history: %d %s", a.status, a.body)
		}
		body := fmt.Sprintf(`{"state":"RESOLVED","value":{"data":%q}}`, base64.StdEncoding.EncodeToString([]byte(`{"name":"Grace"}`)))
		if a := do(t, base, call{"PATCH", "/v1/promises/" + child, map[string]string{"idempotency-key": "k"}, body}); a.status != 201 {
			t.Fatalf("settle: %d %s", a.status, a.body)
		}
		waitFor(t, 20*time.Second, "the approval result", func() bool { s, _ := execState(t, base, "approve-1"); return s == "RESOLVED" })
		if _, v := execState(t, base, "approve-1"); !strings.Contains(string(v), `"approved":true`) || !strings.Contains(string(v), "Grace") {
			t.Fatalf("result %s", v)
		}
		// An execution is a promise, and search finds it by tag.
		a = do(t, base, call{"GET", "/v1/promises?tags[reprise:function]=approval&state=resolved", nil, ""})
		if ps := a.json(t)["promises"].([]any); len(ps) != 1 || ps[0].(map[string]any)["id"] != "approve-1" {
			t.Fatalf("search executions as promises: %s", a.body)
		}
		// Cancel a second one while it waits.
		do(t, base, call{"POST", "/v1/functions/approval/invoke?id=approve-2", nil, `{}`})
		if a := do(t, base, call{"POST", "/v1/executions/approve-2/cancel", nil, ""}); a.status != 200 || a.json(t)["state"] != "REJECTED_CANCELED" {
			t.Fatalf("cancel: %d %s", a.status, a.body)
		}
		checkError(t, do(t, base, call{"POST", "/v1/executions/nope/cancel", nil, ""}), 404)
	})

	t.Run("bad input", func(t *testing.T) {
		wasm := map[string]string{"Content-Type": "application/wasm"}
		for _, c := range []struct {
			name   string
			call   call
			status int
		}{
			{"malformed JSON", call{"POST", "/v1/promises", nil, `{"id":"x",`}, 400},
			{"wrong content type", call{"PUT", "/v1/functions/f", map[string]string{"Content-Type": "text/plain"}, "x"}, 415},
			{"not Wasm", call{"PUT", "/v1/functions/f", wasm, "hello, not wasm"}, 400},
			{"oversized input", call{"POST", "/v1/functions/square/invoke", nil, strings.Repeat("1", DefaultMaxPayload+1)}, 413},
			{"oversized promise", call{"POST", "/v1/promises", nil, `{"id":"big","timeout":1,"param":{"data":"` + strings.Repeat("A", DefaultMaxPayload*2) + `"}}`}, 413},
			{"name with space", call{"PUT", "/v1/functions/a%20b", wasm, "x"}, 400},
			{"name with slash", call{"PUT", "/v1/functions/..%2Fetc", wasm, "x"}, 400},
			{"name with control char", call{"POST", "/v1/functions/a%01/invoke", nil, "1"}, 400},
			{"name too long", call{"GET", "/v1/functions/" + strings.Repeat("n", 300), nil, ""}, 400},
			{"dot-dot name", call{"DELETE", "/v1/functions/%2E%2E", nil, ""}, 400},
			{"bad wait", call{"POST", "/v1/functions/square/invoke?wait=soon", nil, "1"}, 400},
			{"unknown function", call{"POST", "/v1/functions/nope/invoke", nil, "1"}, 404},
			{"unknown execution", call{"GET", "/v1/executions/nope", nil, ""}, 404},
			{"unknown route", call{"GET", "/v1/nothing", nil, ""}, 404},
		} {
			t.Run(c.name, func(t *testing.T) {
				checkError(t, do(t, base, c.call), c.status)
				healthy()
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		if a := do(t, base, call{"DELETE", "/v1/functions/square", nil, ""}); a.status != 204 {
			t.Fatalf("delete: %d %s", a.status, a.body)
		}
		checkError(t, do(t, base, call{"POST", "/v1/functions/square/invoke", nil, "2"}), 404)
		checkError(t, do(t, base, call{"DELETE", "/v1/functions/square", nil, ""}), 404)
		// Executions of the deleted name stay readable.
		if s, v := execState(t, base, do(t, base, call{"GET", "/v1/executions?function=square&limit=1", nil, ""}).json(t)["executions"].([]any)[0].(map[string]any)["id"].(string)); s != "RESOLVED" || len(v) == 0 {
			t.Fatalf("execution of deleted function: %s %s", s, v)
		}
	})

	t.Run("kill -9 mid-execution, restart finishes", func(t *testing.T) {
		deploy(t, base, "sleep", filepath.Join(dir, "sleep.wasm"))
		a := do(t, base, call{"POST", "/v1/functions/sleep/invoke?id=nap", nil, `{"ms":1500}`})
		if a.status != 202 {
			t.Fatalf("invoke: %d %s", a.status, a.body)
		}
		// Wait until the guest has journaled its sleep, then kill.
		waitFor(t, 20*time.Second, "the sleep to start", func() bool {
			a := do(t, base, call{"GET", "/v1/executions/nap/history", nil, ""})
			return strings.Contains(string(a.body), `"op":"sleep"`)
		})
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()

		srv = startServe(t, top, bin, data, "--no-auth")
		base = srv.url
		waitFor(t, 20*time.Second, "the sleep to finish after restart", func() bool { s, _ := execState(t, base, "nap"); return s == "RESOLVED" })
		_, v := execState(t, base, "nap")
		var out struct {
			SleptMS int64 `json:"slept_ms"`
		}
		if err := json.Unmarshal(v, &out); err != nil || out.SleptMS < 1500 {
			t.Fatalf("result %s: %v", v, err)
		}
	})

	t.Run("SIGTERM stops cleanly with exit 0", func(t *testing.T) {
		// A waiting execution is saved, not lost.
		do(t, base, call{"POST", "/v1/functions/approval/invoke?id=approve-3", nil, `{}`})
		srv.cmd.Process.Signal(syscall.SIGTERM)
		if err := srv.cmd.Wait(); err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, srv.stderr)
		}
		srv = startServe(t, top, bin, data, "--no-auth")
		if s, _ := execState(t, srv.url, "approve-3"); s != "PENDING" {
			t.Fatalf("approve-3 after restart: %s", s)
		}
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	})
}
