package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/reprise-wasm/reprise/internal/wasmtest"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// get runs `reprise get id` and decodes its JSON.
func get(t *testing.T, data, id string) promiseJSON {
	t.Helper()
	var p promiseJSON
	if err := json.Unmarshal([]byte(ok(t, data, "get", id)), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

type promiseJSON struct {
	ID          string            `json:"id"`
	State       string            `json:"state"`
	Param       json.RawMessage   `json:"param"`
	Value       json.RawMessage   `json:"value"`
	CreatedOn   string            `json:"createdOn"`
	CompletedOn string            `json:"completedOn"`
	Tags        map[string]string `json:"tags"`
	Execution   *struct {
		Function string `json:"function"`
		Module   string `json:"module"`
		Attempt  int    `json:"attempt"`
	} `json:"execution"`
}

type historyJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Steps []struct {
		Seq     int    `json:"seq"`
		Op      string `json:"op"`
		Child   string `json:"child"`
		Outcome string `json:"outcome"`
	} `json:"steps"`
}

func history(t *testing.T, data, id string) historyJSON {
	t.Helper()
	var h historyJSON
	if err := json.Unmarshal([]byte(ok(t, data, "history", "--json", id)), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// requireSeqsOnce fails unless the journal's steps are numbered 1..n, each
// once: replay after a crash must not journal a step twice.
func requireSeqsOnce(t *testing.T, h historyJSON) {
	t.Helper()
	for i, s := range h.Steps {
		if s.Seq != i+1 {
			t.Fatalf("step %d has seq %d: %+v", i+1, s.Seq, h.Steps)
		}
	}
}

// compact is JSON without insignificant space (get prints indented JSON).
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func sha256File(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestRunGoGuestDirectoryBuildsOnceThenUsesTheCache(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	dir := filepath.Join(examples, "hello")
	r := reprise(t, data, "run", dir, "--input", `{"name":"Ada"}`)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"greeting":"Hello, Ada!"}` {
		t.Fatalf("first run: %s", r)
	}
	if !strings.Contains(r.stderr, "building Go guest") {
		t.Errorf("first run did not say it builds: %s", r)
	}
	r = reprise(t, data, "run", dir)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"greeting":"Hello, world!"}` {
		t.Fatalf("second run: %s", r)
	}
	if strings.Contains(r.stderr, "building") {
		t.Errorf("second run rebuilt an unchanged guest: %s", r)
	}
	builds, _ := filepath.Glob(filepath.Join(data, "build", "hello-*.wasm"))
	if len(builds) != 1 {
		t.Errorf("build cache holds %v", builds)
	}
	// Running the same module again adds no version.
	if out := ok(t, data, "functions", "--json"); !strings.Contains(out, `"version": 1`) {
		t.Errorf("functions after two runs:\n%s", out)
	}
}

func TestRunWasmFilePrintsTheResult(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if out := ok(t, data, "run", wasm["hello"], "--input", `{"name":"Grace"}`); out != `{"greeting":"Hello, Grace!"}` {
		t.Fatalf("got %q", out)
	}
}

func TestRunFanoutInvokesSquareChildren(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	out := ok(t, data, "run", wasm["fanout"], wasm["square"], "--input", `{"n":100,"child":"square"}`)
	if out != `{"n":100,"sum":338350}` {
		t.Fatalf("got %q", out)
	}
	fns := ok(t, data, "functions")
	for _, name := range []string{"fanout", "square"} {
		if !strings.Contains(fns, name) {
			t.Errorf("functions lacks %s:\n%s", name, fns)
		}
	}
}

func TestDeployPrintsModuleHashAndFunctionsListsLatestVersions(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	h1 := ok(t, data, "deploy", "greeter", wasm["hello"])
	if h1 != sha256File(t, wasm["hello"]) {
		t.Fatalf("deploy printed %q, want the module's sha256", h1)
	}
	h2 := ok(t, data, "deploy", "greeter", wasm["square"])
	if h2 != sha256File(t, wasm["square"]) {
		t.Fatalf("second deploy printed %q", h2)
	}
	var fns []struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Module  string `json:"module"`
	}
	if err := json.Unmarshal([]byte(ok(t, data, "functions", "--json")), &fns); err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 || fns[0].Name != "greeter" || fns[0].Version != 2 || fns[0].Module != h2 {
		t.Fatalf("functions --json: %+v", fns)
	}
	table := ok(t, data, "functions")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, h2) {
		t.Errorf("functions table:\n%s", table)
	}
	// A Go guest directory deploys too.
	if h := ok(t, data, "deploy", "hi", filepath.Join(examples, "hello")); len(h) != 64 {
		t.Errorf("deploy of a directory printed %q", h)
	}
}

func TestInvokeSameIDTwiceRunsOnce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "hello", wasm["hello"])
	first := ok(t, data, "invoke", "hello", "--id", "greet-1", "--input", `{"name":"Ada"}`, "--wait")
	second := ok(t, data, "invoke", "hello", "--id", "greet-1", "--input", `{"name":"Bob"}`, "--wait")
	if first != `{"greeting":"Hello, Ada!"}` || second != first {
		t.Fatalf("first %q, second %q: the same id must be the same execution", first, second)
	}
	var ps []promiseJSON
	if err := json.Unmarshal([]byte(ok(t, data, "ls", "--function", "hello", "--json")), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != "greet-1" {
		t.Fatalf("ls --function hello: %+v", ps)
	}
	// Without --wait, the same id prints the same id and starts nothing new.
	if id := ok(t, data, "invoke", "hello", "--id", "greet-1"); id != "greet-1" {
		t.Fatalf("invoke printed %q", id)
	}
}

func TestInvokeWithoutWaitPrintsIDAndRunsItThenGetShowsIt(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	hash := ok(t, data, "deploy", "hello", wasm["hello"])
	id := ok(t, data, "invoke", "hello", "--input", `{"name":"Lin"}`)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("invoke printed %q", id)
	}
	p := get(t, data, id)
	if p.ID != id || p.State != "RESOLVED" || compact(p.Value) != `{"greeting":"Hello, Lin!"}` || compact(p.Param) != `{"name":"Lin"}` {
		t.Fatalf("get: %+v", p)
	}
	if p.Execution == nil || p.Execution.Function != "hello" || p.Execution.Module != hash || p.CreatedOn == "" || p.CompletedOn == "" {
		t.Fatalf("get: %+v %+v", p, p.Execution)
	}
}

// A command that exits leaves the executions it parked waiting in the
// store: the next command does its own job without replaying them (and so
// without their log lines), and the one a resolve wakes carries on.
func TestCommandsDoNotReplayExecutionsNothingWoke(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "approval", wasm["approval"])
	ok(t, data, "deploy", "hello", wasm["hello"])
	var ids []string
	for i := range 3 {
		r := reprise(t, data, "invoke", "approval", "--input", fmt.Sprintf(`{"request":"r%d"}`, i))
		if r.code != 0 || !strings.Contains(r.stderr, "waiting for approval") {
			t.Fatalf("invoke approval: %s", r)
		}
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	r := reprise(t, data, "invoke", "hello", "--input", `{"name":"Lin"}`)
	if r.code != 0 || strings.Contains(r.stderr, "approval") {
		t.Fatalf("invoke hello replayed the waiting executions (their log lines are in its output): %s", r)
	}
	ok(t, data, "resolve", ids[1]+".1", "--value", `"alice"`)
	if p := get(t, data, ids[1]); p.State != "RESOLVED" {
		t.Fatalf("the resolved approval is %s, want RESOLVED", p.State)
	}
	if p := get(t, data, ids[0]); p.State != "PENDING" {
		t.Fatalf("an approval nothing resolved is %s, want PENDING", p.State)
	}
}

func TestApprovalWalkthroughWithOneTerminal(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "approval", wasm["approval"])
	r := reprise(t, data, "invoke", "approval", "--input", `{"request":"deploy"}`)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || id == "" {
		t.Fatalf("invoke: %s", r)
	}
	approval := id + ".1"
	if !strings.Contains(r.stderr, "waiting for approval: resolve "+approval) {
		t.Errorf("the guest's log line is not on stderr: %s", r)
	}
	pending := ok(t, data, "ls", "--state", "pending")
	if !strings.Contains(pending, approval) || !strings.Contains(pending, "PENDING") {
		t.Fatalf("ls --state pending lacks %s:\n%s", approval, pending)
	}
	if out := ok(t, data, "resolve", approval, "--value", `"alice"`); out != approval+" RESOLVED" {
		t.Errorf("resolve printed %q", out)
	}
	p := get(t, data, id)
	var v struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	if err := json.Unmarshal(p.Value, &v); p.State != "RESOLVED" || err != nil || !v.Approved || v.By != "alice" {
		t.Fatalf("after resolve: %+v (%v)", p, err)
	}
	// Resolving again the same way is a no-op; otherwise it is refused.
	ok(t, data, "resolve", approval, "--value", `"alice"`)
	fails(t, 1, data, []string{"reject", approval}, approval+" is already RESOLVED")
	if out := ok(t, data, "ls", "--state", "pending"); out != "" {
		t.Errorf("still pending:\n%s", out)
	}
}

func TestRejectAnswersTheApprovalWithItsReason(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "approval", wasm["approval"])
	id := ok(t, data, "invoke", "approval", "--input", `{"request":"drop tables"}`)
	if out := ok(t, data, "reject", id+".1", "--value", `{"error":"not on a Friday"}`); out != id+".1 REJECTED" {
		t.Errorf("reject printed %q", out)
	}
	p := get(t, data, id)
	if p.State != "RESOLVED" || !strings.Contains(compact(p.Value), `"approved":false`) || !strings.Contains(compact(p.Value), "not on a Friday") {
		t.Fatalf("after reject: %+v", p)
	}
	if out := ok(t, data, "ls", "--state", "rejected"); !strings.Contains(out, id+".1") {
		t.Errorf("ls --state rejected:\n%s", out)
	}
}

func TestCancelStopsAWaitingExecution(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "approval", wasm["approval"])
	id := ok(t, data, "invoke", "approval", "--id", "req-7")
	if out := ok(t, data, "cancel", id); out != id+" REJECTED_CANCELED" {
		t.Errorf("cancel printed %q", out)
	}
	if p := get(t, data, id); p.State != "REJECTED_CANCELED" {
		t.Fatalf("after cancel: %+v", p)
	}
	fails(t, 1, data, []string{"invoke", "approval", "--id", id, "--wait"}, "execution req-7 was canceled")
	if out := ok(t, data, "ls", "--state", "canceled"); !strings.Contains(out, id) {
		t.Errorf("ls --state canceled:\n%s", out)
	}
	fails(t, 1, data, []string{"cancel", id}, "already REJECTED_CANCELED")
}

func TestHistoryListsInvokeStepsWithChildIDs(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "square", wasm["square"])
	ok(t, data, "deploy", "fanout", wasm["fanout"])
	ok(t, data, "invoke", "fanout", "--id", "fan", "--input", `{"n":5}`, "--wait")
	h := history(t, data, "fan")
	requireSeqsOnce(t, h)
	if h.ID != "fan" || h.State != "RESOLVED" || len(h.Steps) != 5 {
		t.Fatalf("history: %+v", h)
	}
	for i, s := range h.Steps {
		if s.Op != "invoke" || s.Child != fmt.Sprintf("fan.%d", i+1) || s.Outcome != "RESOLVED" {
			t.Errorf("step %d: %+v", i+1, s)
		}
	}
	human := ok(t, data, "history", "fan")
	lines := strings.Split(human, "\n")
	if len(lines) != 7 || !strings.Contains(lines[0], "fanout") || !strings.Contains(lines[1], "SEQ") {
		t.Fatalf("history:\n%s", human)
	}
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) != 6 || f[2] != "invoke" || !strings.HasPrefix(f[3], "fan.") || f[4] != "RESOLVED" {
			t.Errorf("history line %q", l)
		}
	}
	// The newest first: the children were created after their parent.
	var ps []promiseJSON
	if err := json.Unmarshal([]byte(ok(t, data, "ls", "--json", "--limit", "3")), &ps); err != nil {
		t.Fatal(err)
	}
	if ids := []string{ps[0].ID, ps[1].ID, ps[2].ID}; !slices.Equal(ids, []string{"fan.5", "fan.4", "fan.3"}) {
		t.Errorf("ls --limit 3: %v", ids)
	}
}

func TestBadInputsSayWhatIsWrongAndExitNonZero(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ok(t, data, "deploy", "hello", wasm["hello"])
	helloID := ok(t, data, "invoke", "hello")

	tmp := t.TempDir()
	notWasm := filepath.Join(tmp, "notes.wasm")
	os.WriteFile(notWasm, []byte("just text"), 0o644)
	v2 := filepath.Join(tmp, "future.wasm")
	os.WriteFile(v2, abiV2Module(), 0o644)
	emptyDir := filepath.Join(tmp, "empty")
	os.Mkdir(emptyDir, 0o755)

	for _, tc := range []struct {
		args []string
		code int
		msgs []string
	}{
		{[]string{"invoke", "hello", "--input", `{"name":`}, 2, []string{"--input is not valid JSON"}},
		{[]string{"resolve", "x.1", "--value", `alice`}, 2, []string{"--value is not valid JSON", `'"text"'`}},
		{[]string{"run", notWasm}, 2, []string{"not WebAssembly", notWasm}},
		{[]string{"deploy", "future", v2}, 2, []string{"reprise_v2", "ABI v1", "rebuild"}},
		{[]string{"invoke", "nosuch"}, 4, []string{`unknown function "nosuch"`, "reprise functions"}},
		{[]string{"get", "nosuch"}, 4, []string{`no execution or promise with id "nosuch"`, data, "removed 7 days after they settle (--retention)"}},
		{[]string{"--retention", "forever", "get", "nosuch"}, 4, []string{"nothing is removed here (--retention forever)"}},
		{[]string{"--retention", "5ms", "get", "nosuch"}, 2, []string{"--retention", "too short"}},
		{[]string{"history", "nosuch"}, 4, []string{`"nosuch"`}},
		{[]string{"resolve", "nosuch.1"}, 4, []string{`no promise with id "nosuch.1"`}},
		{[]string{"cancel", "nosuch"}, 4, []string{`"nosuch"`}},
		{[]string{"build", emptyDir}, 2, []string{"has no Go files"}},
		{[]string{"run", filepath.Join(tmp, "missing")}, 2, []string{"no such file"}},
		{[]string{"deploy", "a/b", wasm["hello"]}, 2, []string{"bad name"}},
		{[]string{"invoke", "hello", "--id", helloID, "--input", "1"}, 0, nil}, // same id: the same execution
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{[]string{"get"}, 2, []string{"missing ID"}},
		{[]string{"get", "--nosuchflag", "x"}, 2, []string{"nosuchflag"}},
		{[]string{"ls", "--state", "done"}, 2, []string{"--state"}},
		{[]string{"--log-level", "loud", "ls"}, 2, []string{"--log-level"}},
	} {
		fails(t, tc.code, data, tc.args, tc.msgs...)
	}
}

func TestHTTPIsOffUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "pong")
	}))
	defer srv.Close()
	data := t.TempDir()
	input := fmt.Sprintf(`{"url":%q}`, srv.URL)
	fails(t, 1, data, []string{"run", wasm["httpcall"], "--input", input}, "was rejected", "--allow-http")
	out := ok(t, data, "--allow-http", "127.0.0.1", "run", wasm["httpcall"], "--input", input)
	if out != `{"status":200,"bytes":4,"body":"pong"}` {
		t.Fatalf("got %q", out)
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	help := ok(t, data, "--help")
	for _, want := range []string{"USAGE:", "COMMANDS:", "EXIT CODES:", "reprise run examples/wasm/fanout", "--data", "--log-level", "--allow-http"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, cmd := range []string{"run", "build", "deploy", "functions", "invoke", "get", "history", "ls", "resolve", "reject", "cancel", "worker"} {
		h := ok(t, data, cmd, "--help")
		for _, want := range []string{"USAGE:", "DESCRIPTION:", "Example:", "reprise " + cmd} {
			if !strings.Contains(h, want) {
				t.Errorf("reprise %s --help lacks %q:\n%s", cmd, want, h)
			}
		}
	}
	if v := ok(t, data, "--version"); !strings.HasPrefix(v, "reprise version ") {
		t.Errorf("--version: %q", v)
	}
}

func TestBuildWritesAReactorModule(t *testing.T) {
	t.Parallel()
	for name, path := range wasm {
		b, err := os.ReadFile(path)
		if err != nil || len(b) < 8 || string(b[:4]) != "\x00asm" {
			t.Errorf("%s: not a module (%v)", name, err)
		}
	}
	// The default output is DIR's base name in the current directory.
	wd := t.TempDir()
	c := repriseCmd(t.Context(), t.TempDir(), "build", filepath.Join(examples, "square"))
	c.Dir = wd
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(wd, "square.wasm")); err != nil {
		t.Fatal(err)
	}
}

func TestDataDirectoryFromEnvironment(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	c := repriseCmd(t.Context(), t.TempDir(), "run", wasm["hello"]) // --data is overridden below
	c.Args = []string{bin, "run", wasm["hello"]}
	c.Env = append(c.Env, "REPRISE_DATA="+data)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if fns := ok(t, data, "functions"); !strings.Contains(fns, "hello") {
		t.Fatalf("REPRISE_DATA was not used:\n%s", fns)
	}
}

// abiV2Module is a minimal module built for a future ABI: it imports
// reprise_v2.input.
func abiV2Module() []byte {
	m := wasmtest.Module{Memory: 1}
	m.Import("reprise_v2", "input", []byte{wasmtest.I32, wasmtest.I32}, []byte{wasmtest.I32})
	m.Func("run", nil)
	return m.Bytes()
}
