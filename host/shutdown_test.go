package host_test

// What a host writes on the way out — Close, a step over its time limit, a
// crash — must leave a journal replay can continue: every step in order,
// each with the promise or child execution it made, and no call that
// escaped (a child started, a request sent) left out. These guests make
// promise-making calls (invoke, sleep, promise, http) followed by local ones
// (now, random) and then stop where the test closes or kills the host, so
// the steps are pending, not yet durable.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// step is one call a shape guest makes, in order.
type step byte

const (
	sInvoke  step = iota // invoke("child", args): the child echoes args
	sSleep               // sleep(1ms)
	sPromise             // promise(no timeout): the test settles it
	sNow                 // now()
	sRandom              // random(16 bytes)
	sHTTP                // http(GET the test's server)
	sGate                // reprise_test.gate(): where the host is stopped (not journaled)
)

var stepOps = map[step]store.Op{sInvoke: store.OpInvoke, sSleep: store.OpSleep, sPromise: store.OpPromise,
	sNow: store.OpNow, sRandom: store.OpRandom, sHTTP: store.OpHTTP}

const (
	shChildOff = 1024 // the child function's name
	shArgsOff  = 1280 // invoke's args
	shReqOff   = 2048 // the http request
	shRandOff  = 4096
	shOutOff   = 8192 // the child's value, then the result
)

const shapeArgs = `{"n":42}`

// shapeGuest makes the calls of steps in order, then awaits every handle
// it got, and resolves with the value of its last invoke (empty when none).
func shapeGuest(steps []step, req string) []byte {
	m := &wmod{}
	inv := m.imp("invoke", tI32x4toI32[0], tI32x4toI32[1])
	slp := m.imp("sleep", tI64toI32[0], tI64toI32[1])
	prm := m.imp("promise", tI64toI32[0], tI64toI32[1])
	now := m.imp("now", tToI64[0], tToI64[1])
	rnd := m.imp("random", tI32I32toI32[0], tI32I32toI32[1])
	htp := m.imp("http", tI32I32toI32[0], tI32I32toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	value := m.imp("value", []byte{vI32, vI32, vI32}, []byte{vI32})
	resolve := m.imp("resolve", tI32I32toI32[0], tI32I32toI32[1])
	gate := byte(m.m.Import("reprise_test", "gate", nil, nil))
	var code []byte
	var handles []uint32
	var seq, invoked uint32
	for _, s := range steps {
		if s == sGate {
			code = cat(code, call(gate))
			continue
		}
		seq++
		switch s {
		case sInvoke:
			code = cat(code, i32const(shChildOff), i32const(5), i32const(shArgsOff), i32const(uint32(len(shapeArgs))), call(inv))
			handles, invoked = append(handles, seq), seq
		case sSleep:
			code = cat(code, i64const(int64(time.Millisecond)), call(slp))
			handles = append(handles, seq)
		case sPromise:
			code = cat(code, i64const(0), call(prm))
			handles = append(handles, seq)
		case sNow:
			code = cat(code, call(now))
		case sRandom:
			code = cat(code, i32const(shRandOff), i32const(16), call(rnd))
		case sHTTP:
			code = cat(code, i32const(shReqOff), i32const(uint32(len(req))), call(htp))
			handles = append(handles, seq)
		}
		code = cat(code, wt.Drop)
	}
	for _, hd := range handles {
		code = cat(code, i32const(hd), call(await), wt.Drop)
	}
	if invoked != 0 {
		code = cat(code, i32const(invoked), i32const(shOutOff), i32const(1024), call(value), []byte{0x21, 0}, // local.set 0
			i32const(shOutOff), []byte{0x20, 0}, call(resolve), wt.Drop)
	}
	m.fn("run", []byte{vI32}, code)
	m.data = append(m.data, wdata{Offset: shChildOff, Bytes: []byte("child")},
		wdata{Offset: shArgsOff, Bytes: []byte(shapeArgs)}, wdata{Offset: shReqOff, Bytes: []byte(req)})
	return m.bytes()
}

// childGuest counts its run (reprise_test.count) and resolves with its input.
func childGuest() []byte {
	m := &wmod{}
	input := m.imp("input", tI32I32toI32[0], tI32I32toI32[1])
	resolve := m.imp("resolve", tI32I32toI32[0], tI32I32toI32[1])
	count := byte(m.m.Import("reprise_test", "count", nil, nil))
	m.fn("run", []byte{vI32}, cat(call(count),
		i32const(shOutOff), i32const(1024), call(input), []byte{0x21, 0},
		i32const(shOutOff), []byte{0x20, 0}, call(resolve), wt.Drop))
	return m.bytes()
}

// shutdownEnv is one store (a directory) that hosts are opened on in turn,
// with the test imports the shape guests use and an HTTP server they call.
type shutdownEnv struct {
	t         *testing.T
	dir       string
	blocks    atomic.Int32  // gate calls still to block (until the run's context ends)
	reached   chan struct{} // a gate was called
	childRuns atomic.Int32  // child guests run from their start
	requests  atomic.Int32  // http requests the server received
	req       string        // the guests' http request
}

func newShutdownEnv(t *testing.T) *shutdownEnv {
	e := &shutdownEnv{t: t, dir: t.TempDir(), reached: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	e.req = fmt.Sprintf(`{"method":"GET","url":%q}`, srv.URL)
	return e
}

func (e *shutdownEnv) imports() []engine.Import {
	return []engine.Import{
		{Module: "reprise_test", Name: "gate", Func: func(ctx context.Context, _ engine.Memory, _ []uint64) {
			select {
			case e.reached <- struct{}{}:
			default:
			}
			if e.blocks.Add(-1) >= 0 {
				<-ctx.Done()
			}
		}},
		{Module: "reprise_test", Name: "count", Func: func(context.Context, engine.Memory, []uint64) { e.childRuns.Add(1) }},
	}
}

// open opens a host on the env's store whose first `blocks` gate calls
// block until the run is stopped.
func (e *shutdownEnv) open(blocks int32, configure ...func(*host.Config)) *testHost {
	e.t.Helper()
	e.blocks.Store(blocks)
	for len(e.reached) > 0 {
		<-e.reached
	}
	conf := append([]func(*host.Config){func(c *host.Config) {
		host.SetTestImports(c, e.imports())
		allowLoopbackHTTP(c)
	}}, configure...)
	return openHost(e.t, e.dir, conf...)
}

func (e *shutdownEnv) deploy(th *testHost, steps []step) {
	th.deployRaw("child", childGuest())
	th.deployRaw("parent", shapeGuest(steps, e.req))
}

func (e *shutdownEnv) waitGate() {
	e.t.Helper()
	select {
	case <-e.reached:
	case <-time.After(30 * time.Second):
		e.t.Fatal("the guest never reached its gate")
	}
}

// durableJournal reads, with no host running, what the store holds of
// attempt's journal, and checks it is whole: steps 1..n in order, and
// every step's promise or child execution written with it.
func (e *shutdownEnv) durableJournal(id string, attempt uint32) []store.Entry {
	e.t.Helper()
	db, err := badgerstore.Open(e.dir, badgerstore.Options{Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	j, err := db.ReadJournal(ctx, id, attempt)
	if err != nil {
		e.t.Fatal(err)
	}
	checkWhole(e.t, j, "written on the way out")
	for _, en := range j {
		if en.Child == "" {
			continue
		}
		if _, err := db.GetPromise(ctx, en.Child); err != nil {
			e.t.Errorf("step %d (%s) is durable but its promise %s is not: %v", en.Seq, en.Op, en.Child, err)
		}
	}
	return j
}

// checkWhole fails unless j holds steps 1..len(j) in order.
func checkWhole(t testing.TB, j []store.Entry, what string) {
	t.Helper()
	for i, en := range j {
		if en.Seq != uint32(i+1) {
			t.Errorf("journal %s has step %d (%s) at position %d: %s; replay cannot get past it", what, en.Seq, en.Op, i+1, opsOf(j))
			return
		}
	}
}

func opsOf(j []store.Entry) string {
	var b strings.Builder
	for i, en := range j {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d:%s", en.Seq, en.Op)
	}
	return "[" + b.String() + "]"
}

func wantOps(steps []step) []store.Op {
	var ops []store.Op
	for _, s := range steps {
		if s != sGate {
			ops = append(ops, stepOps[s])
		}
	}
	return ops
}

func count(steps []step, s step) int {
	n := 0
	for _, x := range steps {
		if x == s {
			n++
		}
	}
	return n
}

// settlePromises settles, once they exist, the promises of the shape's
// promise() calls, as someone outside would.
func settlePromises(t testing.TB, th *testHost, id string, steps []step) {
	var seq int
	for _, s := range steps {
		if s == sGate {
			continue
		}
		seq++
		if s == sPromise {
			pid := fmt.Sprintf("%s.%d", id, seq)
			waitPromise(t, th, pid)
			if _, err := th.Settle(context.Background(), store.Settle{ID: pid, State: store.Resolved}); err != nil {
				t.Fatalf("settle %s: %v", pid, err)
			}
		}
	}
}

// finishAndCheck resumes execution id on th and checks it ends as the shape
// says, with a whole journal of every step of attempt that keeps what was
// durable before (same outcomes: kept, not drawn again), every child run
// once and every http request sent at most once.
func (e *shutdownEnv) finishAndCheck(th *testHost, id string, attempt uint32, steps []step, before []store.Entry) {
	t := e.t
	t.Helper()
	settlePromises(t, th, id, steps)
	p, ok := th.awaitFor(id, 30*time.Second)
	if !ok {
		j, _ := th.Journal(context.Background(), id, attempt)
		t.Fatalf("execution %s is still %s 30s after the restart (journal %s): it cannot resume", id, p.State, opsOf(j))
	}
	if p.State != store.Resolved {
		t.Fatalf("execution %s ended %s: %s", id, p.State, p.Value.Data)
	}
	want := ""
	if count(steps, sInvoke) > 0 {
		want = shapeArgs
	}
	if string(p.Value.Data) != want {
		t.Errorf("result %q, want %q", p.Value.Data, want)
	}
	ex, err := th.Execution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Attempt != attempt {
		t.Errorf("finished in attempt %d, want %d", ex.Attempt, attempt)
	}
	j, err := th.Journal(context.Background(), id, attempt)
	if err != nil {
		t.Fatal(err)
	}
	checkWhole(t, j, "at the end")
	ops := wantOps(steps)
	if len(j) != len(ops) {
		t.Fatalf("journal %s, want the ops %v", opsOf(j), ops)
	}
	for i, en := range j {
		if en.Op != ops[i] {
			t.Errorf("step %d is %s, want %s", i+1, en.Op, ops[i])
		}
	}
	for _, b := range before {
		if i := int(b.Seq) - 1; i < len(j) && !bytes.Equal(j[i].Outcome, b.Outcome) {
			t.Errorf("step %d (%s) was durable with outcome %x but replay wrote %x", b.Seq, b.Op, b.Outcome, j[i].Outcome)
		}
	}
	if got, want := e.childRuns.Load(), int32(count(steps, sInvoke)); got != want {
		t.Errorf("child guests ran %d times from their start, want %d (each child once)", got, want)
	}
	if got, max := e.requests.Load(), int32(count(steps, sHTTP)); got > max {
		t.Errorf("the server got %d requests, want at most %d (a request not marked idempotent is never sent twice)", got, max)
	}
}

// flushedPromises are the ids of the invoke and http steps up to the last
// http one: durable before the gate, since http writes its intent at once.
func flushedPromises(id string, steps []step) []string {
	var ids, pend []string
	seq := 0
	for _, s := range steps {
		if s == sGate {
			continue
		}
		seq++
		if s == sInvoke || s == sHTTP {
			pend = append(pend, fmt.Sprintf("%s.%d", id, seq))
		}
		if s == sHTTP {
			ids = append(ids, pend...)
			pend = pend[:0]
		}
	}
	return ids
}

// shutdownShapes are the guests whose steps are pending when the host is
// stopped at the gate: promise-making calls followed by local ones, after a
// durable prefix or not.
var shutdownShapes = []struct {
	name  string
	steps []step
}{
	{"invoke,now", []step{sInvoke, sNow, sGate}},
	{"now,random,invoke,now", []step{sNow, sRandom, sInvoke, sNow, sGate}},
	{"sleep,now", []step{sSleep, sNow, sGate}},
	{"promise,random", []step{sPromise, sRandom, sGate}},
	{"invoke,sleep,now,random", []step{sInvoke, sSleep, sNow, sRandom, sGate}},
	// http flushes: the first invoke and its child are durable, the second pending.
	{"invoke,now,http,invoke,now", []step{sInvoke, sNow, sHTTP, sInvoke, sNow, sGate}},
}

// Host.Close while a guest runs with pending promise-making steps followed by
// local ones must not write the local ones alone: now's entry at step N+1
// without invoke's at N is a journal no replay can get past.
func TestCloseWithPendingStepsKeepsJournalWhole(t *testing.T) {
	for _, sh := range shutdownShapes {
		t.Run(sh.name, func(t *testing.T) {
			e := newShutdownEnv(t)
			h := e.open(1)
			e.deploy(h, sh.steps)
			if _, err := h.Invoke(context.Background(), "parent", nil, host.InvokeOptions{ID: "sd"}); err != nil {
				t.Fatal(err)
			}
			e.waitGate()
			// What an http call flushed is durable: let its child finish and
			// its response come, so each ran or was sent once, not cut off.
			for _, pid := range flushedPromises("sd", sh.steps) {
				if p, ok := h.awaitFor(pid, 30*time.Second); !ok {
					t.Fatalf("durable step's promise %s is still %s", pid, p.State)
				}
			}
			h.close()
			before := e.durableJournal("sd", 1)
			e.finishAndCheck(e.open(0), "sd", 1, sh.steps, before)
		})
	}
}

// Close while the commit of an http intent (with an invoke and a now before
// it) is on its way to the store: the commit does not happen, the request is
// not sent, and what is written must still be a whole journal.
func TestCloseDuringHTTPIntentCommitKeepsJournalWhole(t *testing.T) {
	steps := []step{sInvoke, sNow, sHTTP}
	e := newShutdownEnv(t)
	var armed atomic.Bool
	armed.Store(true)
	hs := &hookStore{onCommit: func(ctx context.Context, c store.Commit) error {
		for _, en := range c.Entries {
			if en.Op == store.OpHTTP && armed.Load() {
				e.reached <- struct{}{}
				<-ctx.Done() // the commit is still queued when the host closes
				return ctx.Err()
			}
		}
		return nil
	}}
	h := e.open(0, func(c *host.Config) { hs.Store, c.Store = c.Store, hs })
	e.deploy(h, steps)
	if _, err := h.Invoke(context.Background(), "parent", nil, host.InvokeOptions{ID: "sd"}); err != nil {
		t.Fatal(err)
	}
	e.waitGate()
	h.close()
	armed.Store(false)
	if n := e.requests.Load(); n != 0 {
		t.Fatalf("the request was sent (%d) before its intent was durable", n)
	}
	before := e.durableJournal("sd", 1)
	e.finishAndCheck(e.open(0), "sd", 1, steps, before)
	if n := e.requests.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1", n)
	}
}

// retryFailStore fails the first `fails` Retry calls, as a store error would.
type retryFailStore struct {
	store.Store
	fails atomic.Int32
}

func (s *retryFailStore) Retry(ctx context.Context, e store.Execution, owner string, readyAt int64) error {
	if s.fails.Add(-1) >= 0 {
		return errors.New("injected: retry not written")
	}
	return s.Store.Retry(ctx, e, owner, readyAt)
}

// A guest stopped by the step time limit with pending steps: the failed
// attempt's journal (kept for history) must be whole, and the retry must
// invoke the child once.
func TestStepTimeoutWithPendingStepsKeepsJournalWhole(t *testing.T) {
	steps := []step{sInvoke, sNow, sGate}
	e := newShutdownEnv(t)
	h := e.open(1, func(c *host.Config) {
		c.StepTimeout = 300 * time.Millisecond
		c.Retry = host.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond}
	})
	e.deploy(h, steps)
	if _, err := h.Invoke(context.Background(), "parent", nil, host.InvokeOptions{ID: "sd"}); err != nil {
		t.Fatal(err)
	}
	e.finishAndCheck(h, "sd", 2, steps, nil)
	j, err := h.Journal(context.Background(), "sd", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkWhole(t, j, "of the attempt stopped by the step time limit")
}

// The same, when the retry cannot be scheduled (a store error): the task is
// handed back and the same attempt is replayed from what the failed run
// wrote, which must be a journal replay can follow.
func TestStepTimeoutRetryUnwrittenReplaysWholeJournal(t *testing.T) {
	steps := []step{sInvoke, sNow, sGate}
	e := newShutdownEnv(t)
	rs := &retryFailStore{}
	rs.fails.Store(1)
	h := e.open(1, func(c *host.Config) {
		rs.Store, c.Store = c.Store, rs
		c.StepTimeout = 300 * time.Millisecond
		c.Retry = host.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond}
	})
	e.deploy(h, steps)
	if _, err := h.Invoke(context.Background(), "parent", nil, host.InvokeOptions{ID: "sd"}); err != nil {
		t.Fatal(err)
	}
	e.finishAndCheck(h, "sd", 1, steps, nil)
}

// InvokeWait's start is held until the first durable write. Closed with
// pending steps before that, nothing at all is written — not the start, not
// a child — and the caller hears the host closed.
func TestCloseDropsHeldStartWithPendingSteps(t *testing.T) {
	steps := []step{sNow, sInvoke, sNow, sGate}
	e := newShutdownEnv(t)
	h := e.open(1)
	e.deploy(h, steps)
	errc := make(chan error, 1)
	go func() {
		_, err := h.InvokeWait(context.Background(), "parent", nil, host.InvokeOptions{ID: "hw"}, time.Minute)
		errc <- err
	}()
	e.waitGate()
	h.close()
	if err := <-errc; !errors.Is(err, host.ErrClosed) {
		t.Errorf("InvokeWait returned %v, want ErrClosed", err)
	}
	checkNothingWritten(t, e, "hw")
}

// checkNothingWritten checks, on a host opened after, that execution id and
// its child never came to exist, nor ran.
func checkNothingWritten(t *testing.T, e *shutdownEnv, id string) {
	t.Helper()
	h := e.open(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []string{id, id + ".2"} {
		if p, err := h.Get(context.Background(), pid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("promise %s: %s %v, want not found (nothing of the held invocation is written)", pid, p.State, err)
		}
	}
	if j, _ := h.Journal(context.Background(), id, 1); len(j) > 0 {
		t.Errorf("journal %s written for an invocation never started", opsOf(j))
	}
	if n := e.childRuns.Load(); n != 0 {
		t.Errorf("the child ran %d times", n)
	}
}

// InvokeWait's wait runs out while the guest runs: the caller writes the
// start, and the run goes on as an ordinary one. Closed then, with pending
// steps, it must leave a journal it resumes from.
func TestCloseAfterHeldStartWrittenKeepsJournalWhole(t *testing.T) {
	steps := []step{sNow, sInvoke, sNow, sGate}
	e := newShutdownEnv(t)
	h := e.open(1)
	e.deploy(h, steps)
	p, err := h.InvokeWait(context.Background(), "parent", nil, host.InvokeOptions{ID: "hw"}, 200*time.Millisecond)
	if err != nil || p.State != store.Pending {
		t.Fatalf("InvokeWait: %s %v, want a pending promise", p.State, err)
	}
	e.waitGate()
	h.close()
	before := e.durableJournal("hw", 1)
	if len(before) != 1 || before[0].Op != store.OpNow {
		t.Errorf("durable journal %s, want the first now alone (the steps before the first promise-making one)", opsOf(before))
	}
	e.finishAndCheck(e.open(0), "hw", 1, steps, before)
}

// The crash tests run a host in a child process (this test binary, started
// again with shutdownCrashEnv set to the mode) and kill it with SIGKILL once
// the guest is at its gate with pending steps.
const shutdownCrashEnv = "REPRISE_TEST_SHUTDOWN_CRASH"

// TestShutdownCrashHostProcess is the child process's body; it is skipped
// unless shutdownCrashEnv names a mode. It prints READY when the guest is at
// its gate, then waits to be killed.
func TestShutdownCrashHostProcess(t *testing.T) {
	mode := os.Getenv(shutdownCrashEnv)
	if mode == "" {
		t.Skip("the body of the crash tests' host process")
	}
	e := &shutdownEnv{t: t, dir: os.Getenv("REPRISE_TEST_DATA"), reached: make(chan struct{}, 16), req: `{"url":"http://127.0.0.1:1/"}`}
	h := e.open(1 << 30)
	ctx := context.Background()
	switch mode {
	case "invoke":
		e.deploy(h, crashSteps)
		if _, err := h.Invoke(ctx, "parent", nil, host.InvokeOptions{ID: "sd"}); err != nil {
			t.Fatal(err)
		}
	case "held":
		e.deploy(h, crashSteps)
		go h.InvokeWait(ctx, "parent", nil, host.InvokeOptions{ID: "sd"}, time.Hour)
	case "held-written":
		e.deploy(h, crashSteps)
		if p, err := h.InvokeWait(ctx, "parent", nil, host.InvokeOptions{ID: "sd"}, 200*time.Millisecond); err != nil || p.State != store.Pending {
			t.Fatalf("InvokeWait: %s %v", p.State, err)
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	e.waitGate()
	fmt.Printf("READY %s\n", filepath.Dir(guestDir))
	select {}
}

var crashSteps = []step{sNow, sInvoke, sNow, sGate}

// A crash (SIGKILL) with pending steps writes nothing of them: the execution
// resumes from its durable journal and invokes its child once; a held
// InvokeWait start that was never written leaves nothing at all.
func TestCrashWithPendingStepsResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills host processes")
	}
	for _, mode := range []string{"invoke", "held", "held-written"} {
		t.Run(mode, func(t *testing.T) {
			e := newShutdownEnv(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestShutdownCrashHostProcess$")
			cmd.Env = append(os.Environ(), shutdownCrashEnv+"="+mode, "REPRISE_TEST_DATA="+e.dir)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := make(chan string, 1)
			go func() {
				var all []byte
				buf := make([]byte, 4096)
				for {
					n, err := out.Read(buf)
					all = append(all, buf[:n]...)
					if i := bytes.Index(all, []byte("READY ")); i >= 0 {
						if j := bytes.IndexByte(all[i:], '\n'); j >= 0 {
							ready <- string(all[i+6 : i+j])
							return
						}
					}
					if err != nil {
						ready <- "ERR " + string(all)
						return
					}
				}
			}()
			select {
			case line := <-ready:
				if strings.HasPrefix(line, "ERR ") {
					t.Fatalf("host process ended before its guest reached the gate: %s", line)
				}
				defer os.RemoveAll(line) // the killed process's temporary folder
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("no READY from the host process in a minute")
			}
			cmd.Process.Kill() // SIGKILL
			cmd.Wait()
			if mode == "held" {
				checkNothingWritten(t, e, "sd")
				return
			}
			before := e.durableJournal("sd", 1)
			e.finishAndCheck(e.open(0), "sd", 1, crashSteps, before)
		})
	}
}

// A process that stops with executions parked on promises leaves them
// suspended in the store, not as tasks: the next process starts without
// replaying any of them, and replays only the one a settlement wakes.
func TestCloseSuspendsParkedExecutionsCold(t *testing.T) {
	const n = 12
	dir := t.TempDir()
	th := openHost(t, dir)
	th.deploy("approve", "approve")
	th.deploy("sleep", "sleep")
	ctx := context.Background()
	var ids []string
	for i := range n {
		id, err := th.Invoke(ctx, "approve", []byte(`{}`), host.InvokeOptions{ID: fmt.Sprintf("wait-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// And two on a far-away timer.
	for i := range 2 {
		if _, err := th.Invoke(ctx, "sleep", []byte(`{"ms":3600000}`), host.InvokeOptions{ID: fmt.Sprintf("sleep-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every execution parked", func() bool { return th.Parked() == n+2 })
	th.close()

	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	tasks, _, err := db.ClaimTasks(ctx, "probe", time.Now().UnixMilli(), time.Now().Add(time.Minute).UnixMilli(), 100)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 0 {
		t.Fatalf("after Close, %d of the %d parked executions are left as tasks to replay: %v", len(tasks), n+2, tasks)
	}

	th = openHost(t, dir)
	th.deploy("hello", "hello")
	th.run("hello", "x", host.InvokeOptions{})
	if r := th.Stats().Replays; r != 0 {
		t.Fatalf("the next process replayed %d executions that nothing woke", r)
	}
	if _, err := th.Settle(ctx, store.Settle{ID: ids[3] + ".1", State: store.Resolved, Value: store.Value{Data: []byte(`"yes"`)}}); err != nil {
		t.Fatal(err)
	}
	var out struct{ State, Value string }
	resolved(t, th.await(ids[3]), &out)
	if out.State != "resolved" || out.Value != `"yes"` {
		t.Fatalf("woken execution saw %+v, want resolved \"yes\"", out)
	}
	if r := th.Stats().Replays; r != 1 {
		t.Fatalf("replays = %d, want 1: only the execution the settlement woke", r)
	}
	for _, id := range append(ids[:3], "sleep-0", "sleep-1") {
		if p, err := th.Get(ctx, id); err != nil || p.State != store.Pending {
			t.Fatalf("%s: %v %v, want still pending", id, p.State, err)
		}
	}
}
