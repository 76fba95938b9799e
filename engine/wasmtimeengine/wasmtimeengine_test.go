//go:build wasmtime

package wasmtimeengine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wasmtimeengine"
)

var le = binary.LittleEndian

// fakeSys is a deterministic engine.Sys that records what the guest did.
type fakeSys struct {
	mono     int64
	next     byte // the next random byte
	slept    []int64
	out, err bytes.Buffer
}

const wallBase = 1_700_000_000 * int64(time.Second)

func (s *fakeSys) Walltime() (int64, int32) {
	s.mono += 1000
	t := wallBase + s.mono
	return t / 1e9, int32(t % 1e9)
}
func (s *fakeSys) Nanotime() int64    { s.mono += 1000; return s.mono }
func (s *fakeSys) Nanosleep(ns int64) { s.slept = append(s.slept, ns); s.mono += ns }
func (s *fakeSys) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = s.next
		s.next++
	}
	return len(p), nil
}
func (s *fakeSys) Stdout() io.Writer { return &s.out }
func (s *fakeSys) Stderr() io.Writer { return &s.err }

func newEngine(t testing.TB, cfg engine.Config) *wasmtimeengine.Engine {
	t.Helper()
	e, err := wasmtimeengine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func compile(t testing.TB, e engine.Engine, wasm []byte) engine.Module {
	t.Helper()
	m, err := e.Compile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func instantiate(t testing.TB, m engine.Module, s engine.Sys) engine.Instance {
	t.Helper()
	in, err := m.Instantiate(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	return in
}

// hostImport is an import of module "env" with i32 params and results.
func hostImport(name string, nparams, nresults int, f engine.HostFunc) engine.Import {
	return engine.Import{Module: "env", Name: name,
		Params: slices.Repeat([]engine.ValueType{engine.I32}, nparams), Results: slices.Repeat([]engine.ValueType{engine.I32}, nresults), Func: f}
}

func wasmImportOf(imp engine.Import) wasmImport {
	types := func(vs []engine.ValueType) []byte {
		b := make([]byte, len(vs))
		for i, v := range vs {
			b[i] = tI32
			if v == engine.I64 {
				b[i] = tI64
			}
		}
		return b
	}
	return wasmImport{Module: imp.Module, Name: imp.Name, Params: types(imp.Params), Results: types(imp.Results)}
}

func TestCompileReportsImportsExportsAndMemory(t *testing.T) {
	e := newEngine(t, engine.Config{})
	wasm := wasmModule{
		Imports: []wasmImport{{Module: "env", Name: "f", Params: []byte{tI32, tI64}, Results: []byte{tI32}}, {Module: "wasi_snapshot_preview1", Name: "sched_yield", Params: nil, Results: []byte{tI32}}},
		Memory:  1,
		Funcs: []wasmFunc{
			{Export: "run"},
			{Params: []byte{tI64}, Results: []byte{tI32, tI64}, Code: ops(i32(1), []byte{0x20, 0}), Export: "pair"},
		},
	}.Bytes()
	m := compile(t, e, wasm)
	want := []engine.ImportRef{{Module: "env", Name: "f"}, {Module: "wasi_snapshot_preview1", Name: "sched_yield"}}
	if got := m.Imports(); !slices.Equal(got, want) {
		t.Errorf("imports %v, want %v", got, want)
	}
	ex := m.Exports()
	if len(ex) != 2 || len(ex["run"].Params) != 0 || len(ex["run"].Results) != 0 {
		t.Errorf("exports %v", ex)
	}
	if p := ex["pair"]; !slices.Equal(p.Params, []engine.ValueType{engine.I64}) || !slices.Equal(p.Results, []engine.ValueType{engine.I32, engine.I64}) {
		t.Errorf("pair is %+v", p)
	}
	if !m.HasMemory() {
		t.Error("HasMemory = false")
	}
	noMem := compile(t, e, wasmModule{Memory: -1, Funcs: []wasmFunc{{Export: "run"}}}.Bytes())
	if noMem.HasMemory() {
		t.Error("HasMemory = true for a module without memory")
	}
}

func TestCompileRejectsGarbage(t *testing.T) {
	e := newEngine(t, engine.Config{})
	good := wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "run"}}}.Bytes()
	for name, b := range map[string][]byte{
		"empty": nil, "text": []byte("#!/bin/sh\necho hi\n"), "truncated": good[:13],
		"bad body": wasmModule{Memory: 1, Funcs: []wasmFunc{{Code: []byte{0x6a}, Export: "run"}}}.Bytes(), // i32.add on an empty stack
	} {
		if _, err := e.Compile(context.Background(), b); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

func TestHostImportReadsAndWritesMemory(t *testing.T) {
	var got []byte
	var outOfRange bool
	// rev(ptr, n) copies the n bytes at ptr reversed to ptr+n and returns n+1.
	rev := hostImport("rev", 2, 1, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		ptr, n := uint32(stack[0]), uint32(stack[1])
		b, ok := mem.Read(ptr, n)
		if !ok {
			t.Error("read in range failed")
		}
		got = append([]byte(nil), b...)
		r := slices.Clone(b)
		slices.Reverse(r)
		if !mem.Write(ptr+n, r) {
			t.Error("write in range failed")
		}
		_, bad := mem.Read(2*65536-1, 2)
		outOfRange = !bad && !mem.Write(2*65536-1, []byte{1, 2})
		stack[0] = uint64(n + 1)
	})
	var seen []uint32
	check := hostImport("check", 1, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		seen = append(seen, uint32(stack[0]))
		b, _ := mem.Read(100, 8)
		seen = append(seen, le.Uint32(b), le.Uint32(b[4:]))
	})
	e := newEngine(t, engine.Config{Imports: []engine.Import{rev, check}})
	m := compile(t, e, wasmModule{
		Imports: []wasmImport{wasmImportOf(rev), wasmImportOf(check)},
		Memory:  2,
		Funcs: []wasmFunc{{Export: "run", Code: ops(
			i32(100), i32(0x04030201), i32Store, // mem[100:104] = 1 2 3 4
			i32(100), i32(4), call(0), call(1), // check(rev(100, 4))
		)}},
	}.Bytes())
	in := instantiate(t, m, &fakeSys{})
	if err := in.Call(context.Background(), "run"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Errorf("host read %v", got)
	}
	if want := []uint32{5, 0x04030201, 0x01020304}; !slices.Equal(seen, want) {
		t.Errorf("guest saw %x, want %x", seen, want)
	}
	if !outOfRange {
		t.Error("reads and writes past the end of memory succeeded")
	}
	if err := in.Call(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("call of a missing Export: %v", err)
	}
}

func TestI64ParamsAndResults(t *testing.T) {
	var got uint64
	add := engine.Import{Module: "env", Name: "add", Params: []engine.ValueType{engine.I64, engine.I32}, Results: []engine.ValueType{engine.I64},
		Func: func(ctx context.Context, mem engine.Memory, stack []uint64) { stack[0] = stack[0] + stack[1] }}
	check := engine.Import{Module: "env", Name: "check", Params: []engine.ValueType{engine.I64},
		Func: func(ctx context.Context, mem engine.Memory, stack []uint64) { got = stack[0] }}
	e := newEngine(t, engine.Config{Imports: []engine.Import{add, check}})
	m := compile(t, e, wasmModule{
		Imports: []wasmImport{wasmImportOf(add), wasmImportOf(check)},
		Memory:  1,
		// check(add(-2 as i64, 0xffffffff as i32)): i32 params arrive zero-extended.
		Funcs: []wasmFunc{{Export: "run", Code: ops([]byte{0x42, 0x7e}, i32(-1), call(0), call(1))}},
	}.Bytes())
	if err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run"); err != nil {
		t.Fatal(err)
	}
	if want := uint64(0xffffffff) - 2; got != want {
		t.Fatalf("got %#x, want %#x", got, want)
	}
}

// abort is how the host unwinds a guest from a host function.
type abort struct{ err error }

func (a *abort) Error() string { return a.err.Error() }
func (a *abort) Unwrap() error { return a.err }

func TestHostPanicComesBackAsError(t *testing.T) {
	sentinel := errors.New("sentinel")
	var panicWith any
	boom := hostImport("boom", 0, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		if panicWith != nil {
			panic(panicWith)
		}
	})
	e := newEngine(t, engine.Config{Imports: []engine.Import{boom}})
	m := compile(t, e, wasmModule{Imports: []wasmImport{wasmImportOf(boom)}, Memory: 1,
		Funcs: []wasmFunc{{Export: "run", Code: call(0)}}}.Bytes())

	panicWith = &abort{sentinel}
	err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run")
	var ab *abort
	if !errors.As(err, &ab) || !errors.Is(err, sentinel) {
		t.Errorf("err = %v (%T): errors.As finds no *abort", err, err)
	}
	panicWith = "just a string"
	in := instantiate(t, m, &fakeSys{})
	err = in.Call(context.Background(), "run")
	var hp *engine.HostPanicError
	// The stack is read from the error Wasmtime unwound the guest with
	// (trace.go): the host function, then its caller.
	if !errors.As(err, &hp) || hp.Err.Error() != "just a string" || len(hp.Stack) != 2 ||
		hp.Stack[0] != (engine.Frame{Module: "env", Func: "boom"}) || hp.Stack[1].Func != "$1" || !strings.HasPrefix(hp.Stack[1].Detail, " (at 0x") {
		t.Errorf("err = %v (%T) %+v, want a HostPanicError with the stack env.boom, $1", err, err, hp)
	}
	// The instance still serves: the panic unwound only the guest.
	panicWith = nil
	if err := in.Call(context.Background(), "run"); err != nil {
		t.Errorf("after the panic: %v", err)
	}
}

func TestContextStopsEndlessLoopOfThatInstanceOnly(t *testing.T) {
	e := newEngine(t, engine.Config{})
	m := compile(t, e, wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "run", Code: foreverOp}}}.Bytes())
	// Two guests loop; canceling the first must not stop the second, though
	// Wasmtime's epoch is the engine's.
	a, b := instantiate(t, m, &fakeSys{}), instantiate(t, m, &fakeSys{})
	cause := errors.New("step time limit")
	ctxA, cancelA := context.WithCancelCause(context.Background())
	ctxB, cancelB := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancelB()
	var wg sync.WaitGroup
	var errA, errB error
	var tookA, tookB time.Duration
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); errA = a.Call(ctxA, "run"); tookA = time.Since(start) }()
	go func() { defer wg.Done(); errB = b.Call(ctxB, "run"); tookB = time.Since(start) }()
	time.Sleep(100 * time.Millisecond)
	cancelA(cause)
	wg.Wait()
	if !errors.Is(errA, cause) || tookA > 400*time.Millisecond {
		t.Errorf("first guest: err %v after %v, want the cancel cause soon after 100ms", errA, tookA)
	}
	if !errors.Is(errB, context.DeadlineExceeded) || tookB < 550*time.Millisecond {
		t.Errorf("second guest: err %v after %v, want its own deadline at 600ms", errB, tookB)
	}
	// A done context stops a call before it starts.
	if err := a.Call(ctxA, "run"); !errors.Is(err, cause) {
		t.Errorf("call with a done context: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	var grown []int32
	report := hostImport("report", 1, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		grown = append(grown, int32(uint32(stack[0])))
	})
	e := newEngine(t, engine.Config{Imports: []engine.Import{report}, MemoryLimitPages: 4})
	m := compile(t, e, wasmModule{Imports: []wasmImport{wasmImportOf(report)}, Memory: 2,
		Funcs: []wasmFunc{{Export: "run", Code: ops(
			i32(2), memoryGrow, call(0), // to 4 pages: ok, returns the old size 2
			i32(1), memoryGrow, call(0), // to 5: refused, -1
		)}}}.Bytes())
	if err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(grown, []int32{2, -1}) {
		t.Errorf("memory.grow gave %v, want [2 -1]", grown)
	}
	big := compile(t, e, wasmModule{Memory: 5, Funcs: []wasmFunc{{Export: "run"}}}.Bytes())
	if in, err := big.Instantiate(context.Background(), &fakeSys{}); err == nil {
		in.Close(context.Background())
		t.Error("a module whose memory starts past the cap instantiated")
	}
}

func TestTrapPastHalfTheMemoryLimitIsMemoryError(t *testing.T) {
	e := newEngine(t, engine.Config{MemoryLimitPages: 4})
	for pages, note := range map[int]bool{2: false, 3: true} {
		m := compile(t, e, wasmModule{Memory: pages, Funcs: []wasmFunc{{Export: "run", Code: []byte{0x00}}}}.Bytes())
		err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run")
		var mem *engine.MemoryError
		var te *engine.TrapError
		if !errors.As(err, &te) || errors.As(err, &mem) != note || note && (mem.Size != uint64(pages)<<16 || mem.Limit != 4<<16) {
			t.Errorf("%d of 4 pages: err = %v (%T), want a MemoryError: %v", pages, err, err, note)
		}
	}
}

func TestProcExitGivesExitError(t *testing.T) {
	e := newEngine(t, engine.Config{})
	for _, code := range []uint32{0, 3} {
		m := compile(t, e, wasmModule{
			Imports: []wasmImport{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: []byte{tI32}, Results: nil}},
			Memory:  1,
			Funcs:   []wasmFunc{{Export: "run", Code: ops(i32(int32(code)), call(0), []byte{0x00})}}, // unreachable after
		}.Bytes())
		err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run")
		var exit *engine.ExitError
		if !errors.As(err, &exit) || exit.Code != code {
			t.Errorf("proc_exit(%d): err = %v (%T)", code, err, err)
		}
	}
}

func TestInstantiateRunsInitialize(t *testing.T) {
	var calls []string
	note := hostImport("note", 1, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		calls = append(calls, map[uint64]string{1: "_initialize", 2: "run"}[stack[0]])
	})
	e := newEngine(t, engine.Config{Imports: []engine.Import{note}})
	m := compile(t, e, wasmModule{Imports: []wasmImport{wasmImportOf(note)}, Memory: 1, Funcs: []wasmFunc{
		{Export: "_initialize", Code: ops(i32(1), call(0))},
		{Export: "run", Code: ops(i32(2), call(0))},
	}}.Bytes())
	in := instantiate(t, m, &fakeSys{})
	if err := in.Call(context.Background(), "run"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []string{"_initialize", "run"}) {
		t.Fatalf("calls %v", calls)
	}
}

// wasiGuest calls the WASI functions that must come from the Sys and hands
// memory to report. Layout: clocks at 0 and 8, 8 random bytes at 16, errnos
// from 400, a poll subscription at 64 with its event at 128 and count at
// 200, an iovec at 300 ("hi!" at 320) with its count at 308.
func wasiGuest(report engine.Import, prep engine.Import) []byte {
	const w = "wasi_snapshot_preview1"
	imports := []wasmImport{
		{Module: w, Name: "clock_time_get", Params: []byte{tI32, tI64, tI32}, Results: []byte{tI32}}, // 0
		{Module: w, Name: "random_get", Params: []byte{tI32, tI32}, Results: []byte{tI32}},           // 1
		{Module: w, Name: "poll_oneoff", Params: []byte{tI32, tI32, tI32, tI32}, Results: []byte{tI32}},
		{Module: w, Name: "fd_write", Params: []byte{tI32, tI32, tI32, tI32}, Results: []byte{tI32}}, // 3
		{Module: w, Name: "clock_res_get", Params: []byte{tI32, tI32}, Results: []byte{tI32}},        // 4
		{Module: w, Name: "sched_yield", Params: nil, Results: []byte{tI32}},                         // 5
		wasmImportOf(prep), wasmImportOf(report), // 6, 7
	}
	errnoAt := func(k int32, call []byte) []byte { return ops(i32(400+4*k), call, i32Store) }
	code := ops(
		call(6),
		errnoAt(0, ops(i32(1), i64(0), i32(0), call(0))),              // monotonic → 0
		errnoAt(1, ops(i32(0), i64(0), i32(8), call(0))),              // realtime → 8
		errnoAt(2, ops(i32(16), i32(8), call(1))),                     // random → 16
		errnoAt(3, ops(i32(64), i32(128), i32(1), i32(200), call(2))), // poll_oneoff
		errnoAt(4, ops(i32(1), i32(300), i32(1), i32(308), call(3))),  // fd_write(1)
		errnoAt(5, ops(i32(2), i32(300), i32(1), i32(308), call(3))),  // fd_write(2)
		errnoAt(6, ops(i32(7), i32(300), i32(1), i32(308), call(3))),  // fd_write(7): EBADF
		errnoAt(7, ops(i32(1), i32(32), call(4))),                     // clock_res_get
		errnoAt(8, ops(i32(9), i64(0), i32(0x7fff0000), call(0))),     // bad clock id: EINVAL
		errnoAt(9, ops(i32(1), i64(0), i32(0x7fff0000), call(0))),     // out of range: EFAULT
		errnoAt(10, call(5)), // sched_yield
		errnoAt(11, ops(i32(0x7fff0000), i32(8), call(1))), // random out of range
		call(7),
	)
	return wasmModule{Imports: imports, Memory: 1, Funcs: []wasmFunc{{Export: "run", Code: code}}}.Bytes()
}

func TestWASIComesFromSys(t *testing.T) {
	prep := hostImport("prep", 0, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		sub := make([]byte, 48)
		copy(sub, "userdata")
		sub[8] = 0                  // clock
		le.PutUint64(sub[24:], 5e6) // 5ms, relative
		mem.Write(64, sub)
		iov := make([]byte, 8)
		le.PutUint32(iov, 320)
		le.PutUint32(iov[4:], 3)
		mem.Write(300, iov)
		mem.Write(320, []byte("hi!"))
	})
	var snap []byte
	report := hostImport("report", 0, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		b, _ := mem.Read(0, 512)
		snap = slices.Clone(b)
	})
	e := newEngine(t, engine.Config{Imports: []engine.Import{prep, report}})
	m := compile(t, e, wasiGuest(report, prep))

	run := func() (*fakeSys, []byte) {
		s := &fakeSys{next: 7}
		if err := instantiate(t, m, s).Call(context.Background(), "run"); err != nil {
			t.Fatal(err)
		}
		return s, snap
	}
	s, mem := run()
	errnos := make([]uint32, 12)
	for i := range errnos {
		errnos[i] = le.Uint32(mem[400+4*i:])
	}
	if want := []uint32{0, 0, 0, 0, 0, 0, 8, 0, 28, 21, 0, 21}; !slices.Equal(errnos, want) {
		t.Errorf("errnos %v, want %v", errnos, want)
	}
	if mono := le.Uint64(mem[0:]); mono != 1000 {
		t.Errorf("monotonic clock read %d, want the Sys's 1000", mono)
	}
	if wall := int64(le.Uint64(mem[8:])); wall != wallBase+2000 {
		t.Errorf("wall clock read %d, want the Sys's %d", wall, wallBase+2000)
	}
	if r := mem[16:24]; !bytes.Equal(r, []byte{7, 8, 9, 10, 11, 12, 13, 14}) {
		t.Errorf("random bytes %v, want the Sys's", r)
	}
	if res := le.Uint64(mem[32:]); res != 1 {
		t.Errorf("clock resolution %d", res)
	}
	if !slices.Equal(s.slept, []int64{5e6}) {
		t.Errorf("slept %v, want one virtual 5ms sleep", s.slept)
	}
	if ev := mem[128:160]; string(ev[:8]) != "userdata" || ev[8] != 0 || ev[10] != 0 || le.Uint32(mem[200:]) != 1 {
		t.Errorf("poll event %x, count %d", ev, le.Uint32(mem[200:]))
	}
	if s.out.String() != "hi!" || s.err.String() != "hi!" || le.Uint32(mem[308:]) != 3 {
		t.Errorf("stdout %q, stderr %q, nwritten %d", s.out.String(), s.err.String(), le.Uint32(mem[308:]))
	}
	// The same Sys state gives the same run, byte for byte.
	if _, again := run(); !bytes.Equal(again, mem) {
		t.Error("a second run with the same Sys saw different memory")
	}
}

func TestEachInstanceSeesItsOwnSys(t *testing.T) {
	now := engine.Import{Module: "env", Name: "noop", Func: func(ctx context.Context, mem engine.Memory, stack []uint64) {}}
	e := newEngine(t, engine.Config{Imports: []engine.Import{now}})
	m := compile(t, e, wasmModule{
		Imports: []wasmImport{{Module: "wasi_snapshot_preview1", Name: "clock_time_get", Params: []byte{tI32, tI64, tI32}, Results: []byte{tI32}}, wasmImportOf(now)},
		Memory:  1,
		Funcs:   []wasmFunc{{Export: "run", Code: ops(i32(1), i64(0), i32(0), call(0), drop, call(1))}},
	}.Bytes())
	sa, sb := &fakeSys{}, &fakeSys{}
	a, b := instantiate(t, m, sa), instantiate(t, m, sb)
	for _, in := range []engine.Instance{a, b, a, a} {
		if err := in.Call(context.Background(), "run"); err != nil {
			t.Fatal(err)
		}
	}
	if sa.mono != 3000 || sb.mono != 1000 {
		t.Fatalf("clock reads: %d on a's Sys, %d on b's; want 3 and 1", sa.mono/1000, sb.mono/1000)
	}
}

func TestHostImportSeesCallContext(t *testing.T) {
	type key struct{}
	var got any
	peek := hostImport("peek", 0, 0, func(ctx context.Context, mem engine.Memory, stack []uint64) { got = ctx.Value(key{}) })
	e := newEngine(t, engine.Config{Imports: []engine.Import{peek}})
	m := compile(t, e, wasmModule{Imports: []wasmImport{wasmImportOf(peek)}, Memory: 1, Funcs: []wasmFunc{{Export: "run", Code: call(0)}}}.Bytes())
	ctx := context.WithValue(context.Background(), key{}, "mine")
	if err := instantiate(t, m, &fakeSys{}).Call(ctx, "run"); err != nil || got != "mine" {
		t.Fatalf("err %v, ctx value %v", err, got)
	}
}

func TestCacheDirKeepsCompiledCode(t *testing.T) {
	dir := t.TempDir()
	a := wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "a"}}}.Bytes()
	b := wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "b"}}}.Bytes()
	compile(t, newEngine(t, engine.Config{CacheDir: dir}), a)
	files, _ := filepath.Glob(filepath.Join(dir, "wasmtime", "*.cwasm"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v, want one module", files)
	}
	// File a's code under b's Name: a new engine (a restart) compiling b
	// must then load a's code, which proves it reads the cache.
	sum := sha256.Sum256(b)
	bPath := filepath.Join(dir, "wasmtime", hex.EncodeToString(sum[:])+".cwasm")
	code, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bPath, code, 0o600)
	if ex := compile(t, newEngine(t, engine.Config{CacheDir: dir}), b).Exports(); !hasKey(ex, "a") {
		t.Fatalf("exports %v: the cached code was not used", ex)
	}
	// A file that is not a module for this engine is compiled again and
	// replaced.
	os.WriteFile(bPath, []byte("stale"), 0o600)
	if ex := compile(t, newEngine(t, engine.Config{CacheDir: dir}), b).Exports(); !hasKey(ex, "b") {
		t.Fatalf("exports %v after a stale cache file", ex)
	}
	if got, _ := os.ReadFile(bPath); string(got) == "stale" {
		t.Error("the stale file was not replaced")
	}
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func TestTrapAndLinkErrorsAreReadable(t *testing.T) {
	e := newEngine(t, engine.Config{})
	m := compile(t, e, wasmModule{Memory: 1, Funcs: []wasmFunc{
		{Export: "run", Code: call(1)},
		{Code: []byte{0x00}}, // unreachable; no name section, so frames are $index
	}}.Bytes())
	err := instantiate(t, m, &fakeSys{}).Call(context.Background(), "run")
	var te *engine.TrapError
	if !errors.As(err, &te) || te.Message != "unreachable" || len(te.Stack) != 2 || te.Stack[0].Func != "$1" || te.Stack[1].Func != "$0" {
		t.Errorf("err = %v (%T), want a TrapError for unreachable in $1 called by $0", err, err)
	}
	if !strings.HasPrefix(err.Error(), "wasm error: unreachable\nwasm stack trace:\n\t.$1 (at 0x") {
		t.Errorf("err text %q", err)
	}

	missing := compile(t, e, wasmModule{Imports: []wasmImport{{Module: "env", Name: "missing", Params: nil, Results: nil}}, Memory: 1, Funcs: []wasmFunc{{Export: "run"}}}.Bytes())
	_, err = missing.Instantiate(context.Background(), &fakeSys{})
	if err == nil || !strings.Contains(err.Error(), "missing") || strings.Contains(err.Error(), "\n") {
		t.Errorf("instantiate with a missing import: %q, want one line naming it", err)
	}
}

func TestTrapsComeBackAsTrapErrors(t *testing.T) {
	e := newEngine(t, engine.Config{})
	for want, code := range map[string][]byte{
		"unreachable":                 {0x00},
		"out of bounds memory access": ops(i32(0x7ffffff0), []byte{0x28, 2, 0}, drop), // i32.load past the page
		"integer divide by zero":      ops(i32(1), i32(0), []byte{0x6d}, drop),        // i32.div_s
		"stack overflow":              call(0),                                        // run calls itself
	} {
		m := compile(t, e, wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "run", Code: code}}}.Bytes())
		in := instantiate(t, m, &fakeSys{})
		err := in.Call(context.Background(), "run")
		var te *engine.TrapError
		if !errors.As(err, &te) || te.Message != want || len(te.Stack) == 0 || len(te.Stack) > engine.MaxFrames {
			t.Errorf("%s: err = %v (%T), want a TrapError with 1 to %d frames", want, err, err, engine.MaxFrames)
		}
		// The instance is still usable after a trap: the trap unwound only the guest.
		if err := in.Call(context.Background(), "nope"); err == nil {
			t.Errorf("%s: calling a missing export after the trap succeeded", want)
		}
	}
}
