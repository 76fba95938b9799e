package host_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/internal/wasmbin"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

type fuzzCall struct {
	name            string
	params, results []byte
	args            int
}

// The host calls that read or write guest memory, in the order the fuzz
// guest imports them; the fuzzed op picks one.
var fuzzCalls = []fuzzCall{
	{abi.ImportInput, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportResolve, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportReject, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportInvoke, []byte{wt.I32, wt.I32, wt.I32, wt.I32}, []byte{wt.I32}, 4},
	{abi.ImportHTTP, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportAwait, []byte{wt.I32}, []byte{wt.I32}, 1},
	{abi.ImportAwaitAny, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportValue, []byte{wt.I32, wt.I32, wt.I32}, []byte{wt.I32}, 3},
	{abi.ImportPromiseID, []byte{wt.I32, wt.I32, wt.I32}, []byte{wt.I32}, 3},
	{abi.ImportRandom, []byte{wt.I32, wt.I32}, []byte{wt.I32}, 2},
	{abi.ImportLog, []byte{wt.I32, wt.I32, wt.I32}, nil, 3},
}

// The fuzz guest's input, copied to address 0 of its memory: a header, then
// bytes that are whatever the fuzzer made of the rest of memory.
const (
	fzOp      = 0  // u32: index in fuzzCalls
	fzArgs    = 4  // 4 × u32: the call's arguments
	fzGrow    = 20 // u32: memory.grow by this & 3 pages first
	fzFlags   = 24 // u32: bit 0, sleep(0) and await it first (handle 1)
	fzHeader  = 28
	fzCode    = 65532 // where the guest stores the call's result
	fzMaxBody = 4096
)

// fuzzGuest assembles the guest: run reads its input to address 0, grows its
// memory, optionally makes handle 1, makes the call the header names with
// the header's arguments, stores the result at fzCode and resolves with its
// whole memory, so the test sees every byte the host wrote.
func fuzzGuest() []byte {
	m := wt.Module{Memory: 1}
	for _, c := range fuzzCalls {
		m.Import(abi.Module, c.name, c.params, c.results)
	}
	sleep := m.Import(abi.Module, abi.ImportSleep, []byte{wt.I64}, []byte{wt.I32})
	const input, resolve, await = 0, 1, 5
	load := func(addr int32) []byte { return wt.Cat(wt.I32Const(addr), []byte{0x28, 2, 0}) } // i32.load
	code := wt.Cat(
		wt.I32Const(0), wt.I32Const(65536), wt.Call(input), wt.Drop,
		load(fzGrow), wt.I32Const(3), []byte{0x71}, wt.MemoryGrow, wt.Drop, // i32.and
		load(fzFlags), wt.I32Const(1), []byte{0x71, 0x04, 0x40}, // i32.and; if
		wt.I64Const(0), wt.Call(sleep), wt.Call(await), wt.Drop, []byte{0x0b},
		load(fzOp), []byte{0x21, 0}, // local.set 0
	)
	for i, c := range fuzzCalls {
		code = wt.Cat(code, []byte{0x20, 0}, wt.I32Const(int32(i)), []byte{0x46, 0x04, 0x40}) // local.get 0; i32.eq; if
		for a := range c.args {
			code = wt.Cat(code, load(fzArgs+4*int32(a)))
		}
		code = wt.Cat(code, wt.Call(uint32(i)))
		if len(c.results) > 0 {
			code = append(code, 0x21, 1) // local.set 1
		}
		code = append(code, 0x0b)
	}
	code = wt.Cat(code,
		wt.I32Const(fzCode), []byte{0x20, 1}, wt.I32Store,
		wt.I32Const(0), wt.MemorySize, wt.I32Const(65536), []byte{0x6c}, wt.Call(resolve), wt.Drop) // i32.mul
	m.Func("run", []byte{wt.I32, wt.I32}, code)
	return m.Bytes()
}

// fuzzCase is one call with hostile arguments.
type fuzzCase struct {
	op      uint8
	args    [4]uint32
	grow    uint8
	prelude bool
	body    []byte
}

func (c fuzzCase) input() []byte {
	b := make([]byte, fzHeader, fzHeader+len(c.body))
	binary.LittleEndian.PutUint32(b[fzOp:], uint32(c.op))
	for i, a := range c.args {
		binary.LittleEndian.PutUint32(b[fzArgs+4*i:], a)
	}
	binary.LittleEndian.PutUint32(b[fzGrow:], uint32(c.grow))
	if c.prelude {
		b[fzFlags] = 1
	}
	return append(b, c.body...)
}

// expected is what the ABI says the call does: its result, and what it may
// write (want, or any bytes when want is nil, at [at, at+n)).
type expected struct {
	code   int32
	at, n  uint64
	want   []byte
	settle store.State // Resolved or Rejected by resolve/reject themselves; Pending: the guest's memory dump
	value  []byte
}

// fuzzModel is the ABI's text as code: what each call must return for the
// arguments and memory, independently of how the host implements it.
func fuzzModel(c fuzzCase, mem []byte, id string, maxPayload int) expected {
	size := uint64(len(mem))
	in := func(ptr, n uint32) bool { return uint64(ptr)+uint64(n) <= size }
	// copyOut: the length, and the bytes at buf only when they fit in cap.
	out := func(buf, capacity uint32, b []byte) expected {
		if len(b) == 0 || uint32(len(b)) > capacity {
			return expected{code: int32(len(b))}
		}
		if !in(buf, uint32(len(b))) {
			return expected{code: abi.ErrBadMemory}
		}
		return expected{code: int32(len(b)), at: uint64(buf), n: uint64(len(b)), want: b}
	}
	// readIn: the size limit first, then the range; an empty one is not read.
	read := func(ptr, n uint32, limit int) ([]byte, int32) {
		switch {
		case uint64(n) > uint64(limit):
			return nil, abi.ErrTooLarge
		case n == 0:
			return []byte{}, 0
		case !in(ptr, n):
			return nil, abi.ErrBadMemory
		}
		return mem[ptr : uint64(ptr)+uint64(n)], 0
	}
	next := int32(1) // the next handle
	valid := func(h uint32) bool { return false }
	if c.prelude {
		next = 2
		valid = func(h uint32) bool { return h == 1 }
	}
	a := c.args
	switch fuzzCalls[c.op].name {
	case abi.ImportInput:
		return out(a[0], a[1], c.input())
	case abi.ImportResolve, abi.ImportReject:
		b, code := read(a[0], a[1], maxPayload)
		if code != 0 {
			return expected{code: code}
		}
		s := store.Resolved
		if fuzzCalls[c.op].name == abi.ImportReject {
			s = store.Rejected
		}
		return expected{settle: s, value: b}
	case abi.ImportInvoke:
		if a[1] == 0 || a[1] > 256 {
			return expected{code: abi.ErrBadArgument}
		}
		if _, code := read(a[0], a[1], 256); code != 0 {
			return expected{code: code}
		}
		if _, code := read(a[2], a[3], maxPayload); code != 0 {
			return expected{code: code}
		}
		return expected{code: next}
	case abi.ImportHTTP:
		b, code := read(a[0], a[1], maxPayload+64<<10)
		if code != 0 {
			return expected{code: code}
		}
		var req abi.HTTPRequest
		if json.Unmarshal(b, &req) != nil || req.URL == "" {
			return expected{code: abi.ErrBadArgument}
		}
		if len(req.Body) > maxPayload {
			return expected{code: abi.ErrTooLarge}
		}
		return expected{code: next}
	case abi.ImportAwait:
		if !valid(a[0]) {
			return expected{code: abi.ErrBadHandle}
		}
		return expected{code: abi.StateResolved}
	case abi.ImportAwaitAny:
		n := int32(a[1])
		if n <= 0 || n > 4096 {
			return expected{code: abi.ErrBadArgument}
		}
		if !in(a[0], uint32(n)*4) {
			return expected{code: abi.ErrBadMemory}
		}
		for i := range uint64(n) {
			if !valid(binary.LittleEndian.Uint32(mem[uint64(a[0])+4*i:])) {
				return expected{code: abi.ErrBadHandle}
			}
		}
		return expected{code: 0}
	case abi.ImportValue:
		if !valid(a[0]) {
			return expected{code: abi.ErrBadHandle}
		}
		return out(a[1], a[2], nil) // a sleep resolves with no value
	case abi.ImportPromiseID:
		switch {
		case a[0] == 0:
			return out(a[1], a[2], []byte(id))
		case valid(a[0]):
			return out(a[1], a[2], []byte(id+".1"))
		}
		return expected{code: abi.ErrBadHandle}
	case abi.ImportRandom:
		switch {
		case a[1] > 4096:
			return expected{code: abi.ErrTooLarge}
		case a[1] == 0 && in(a[0], 0):
			return expected{code: 0}
		case !in(a[0], a[1]):
			// Also for an empty buffer past the end: the ABI frees only
			// empty buffers into the host from a valid pointer, and
			// random is out of it.
			return expected{code: abi.ErrBadMemory}
		}
		return expected{at: uint64(a[0]), n: uint64(a[1])}
	}
	return expected{} // log: no result, writes nothing
}

var fuzzRuns atomic.Int64

// FuzzGuestMemoryArgs drives the real host calls, on the engine the tests
// run on, from a hand-assembled guest with hostile pointers, lengths and
// capacities (out of bounds, ptr+len past 2^32, lengths past MaxPayload,
// negative as i32), hostile handle lists and http requests in its memory,
// and memories of 1 to 4 pages. Every call must return what the ABI says, or
// set the outcome it says; no host call may panic or trap the guest; and the
// host may write guest memory only inside the buffer it was given.
func FuzzGuestMemoryArgs(f *testing.F) {
	const maxPayload = 1 << 20
	h := newHost(f, func(c *host.Config) {
		c.MaxPayload = maxPayload
		c.Retry = host.RetryPolicy{MaxAttempts: 1}
		c.Logger = testLogger(f)
	})
	h.deployRaw("fuzz", fuzzGuest())

	const page = 65536
	edges := []uint32{0, 1, 4, page - 4, page, 2*page - 1, 4 * page, 1 << 20, 1<<20 + 1, 1<<31 - 1, 1 << 31, 1<<32 - 4, 1<<32 - 1}
	handles := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 1)
	req := []byte(`{"method":"GET","url":"http://127.0.0.1:1/","body":"aGk="}`)
	for op := range uint8(len(fuzzCalls)) {
		f.Add(op, uint32(64), uint32(16), uint32(96), uint32(4), uint8(0), false, []byte(nil))
		f.Add(op, uint32(fzHeader), uint32(len(handles)/4), uint32(1), uint32(0), uint8(1), true, handles)
		f.Add(op, uint32(1<<32-16), uint32(32), uint32(1<<32-16), uint32(32), uint8(0), true, []byte(nil)) // ptr+len wraps
		f.Add(op, uint32(page-2), uint32(4), uint32(page-2), uint32(4), uint8(0), false, []byte(nil))      // straddles the end
		f.Add(op, uint32(1), uint32(1<<31), uint32(1), uint32(1<<31), uint8(3), true, []byte(nil))         // negative as i32
		f.Add(op, uint32(fzHeader), uint32(len(req)), uint32(fzHeader), uint32(len(req)), uint8(0), false, req)
	}
	// Calls that succeed, so that what the host writes is checked byte for byte.
	const buf = 2 * 4096
	for _, s := range []struct {
		op      string
		args    [4]uint32
		prelude bool
		body    string
	}{
		{abi.ImportInput, [4]uint32{buf, 4096}, false, "abc"},
		{abi.ImportResolve, [4]uint32{fzHeader, 3}, false, "abc"},
		{abi.ImportReject, [4]uint32{fzHeader, 3}, false, "abc"},
		{abi.ImportInvoke, [4]uint32{fzHeader, 4, fzHeader + 4, 2}, true, "none{}"},
		{abi.ImportAwait, [4]uint32{1}, true, ""},
		{abi.ImportValue, [4]uint32{1, buf, 64}, true, ""},
		{abi.ImportPromiseID, [4]uint32{0, buf, 64}, false, ""},
		{abi.ImportPromiseID, [4]uint32{1, page - 8, 64}, true, ""},
		{abi.ImportRandom, [4]uint32{buf, 16}, false, ""},
		{abi.ImportLog, [4]uint32{1, fzHeader, 3}, false, "abc"},
	} {
		op := slices.IndexFunc(fuzzCalls, func(c fuzzCall) bool { return c.name == s.op })
		f.Add(uint8(op), s.args[0], s.args[1], s.args[2], s.args[3], uint8(0), s.prelude, []byte(s.body))
	}
	for i, e := range edges {
		f.Add(uint8(i), e, edges[len(edges)-1-i], e, edges[(i+3)%len(edges)], uint8(i), i%2 == 0, []byte("x"))
	}

	f.Fuzz(func(t *testing.T, op uint8, a0, a1, a2, a3 uint32, grow uint8, prelude bool, body []byte) {
		c := fuzzCase{op: op % uint8(len(fuzzCalls)), args: [4]uint32{a0, a1, a2, a3}, grow: grow & 3, prelude: prelude, body: body}
		if len(c.body) > fzMaxBody {
			c.body = c.body[:fzMaxBody]
		}
		id := fmt.Sprintf("fz%d", fuzzRuns.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := h.Invoke(ctx, "fuzz", c.input(), host.InvokeOptions{ID: id}); err != nil {
			t.Fatal(err)
		}
		p, err := h.Await(ctx, id)
		if err != nil {
			t.Fatalf("%s(%#x) never returned: %v", fuzzCalls[c.op].name, c.args, err)
		}

		// The memory the call saw: the input at 0, the rest zero.
		mem := make([]byte, (1+int(c.grow))*page)
		copy(mem, c.input())
		want := fuzzModel(c, mem, id, maxPayload)
		call := fmt.Sprintf("%s(%#x) with %d pages", fuzzCalls[c.op].name, c.args[:fuzzCalls[c.op].args], len(mem)/page)
		if want.settle != store.Pending {
			if p.State != want.settle || !bytes.Equal(p.Value.Data, want.value) {
				t.Fatalf("%s: promise %s %.200q, want %s with the %d bytes at the pointer", call, p.State, p.Value.Data, want.settle, len(want.value))
			}
			return
		}
		if p.State != store.Resolved || len(p.Value.Data) != len(mem) {
			t.Fatalf("%s: the guest did not run to its end: %s %.300s", call, p.State, p.Value.Data)
		}
		got := p.Value.Data
		if code := int32(binary.LittleEndian.Uint32(got[fzCode:])); code != want.code {
			t.Fatalf("%s returned %d, want %d", call, code, want.code)
		}
		binary.LittleEndian.PutUint32(mem[fzCode:], uint32(want.code))
		for i := range uint64(len(mem)) {
			inBuf := i >= want.at && i < want.at+want.n && (i < fzCode || i >= fzCode+4)
			switch {
			case inBuf && want.want != nil && got[i] != want.want[i-want.at]:
				t.Fatalf("%s wrote %#x at %d, want %#x", call, got[i], i, want.want[i-want.at])
			case inBuf:
			case got[i] != mem[i]:
				t.Fatalf("%s wrote guest memory at %d (%#x, was %#x), outside the buffer [%d, %d)", call, i, got[i], mem[i], want.at, want.at+want.n)
			}
		}
	})
}

// FuzzDeployDeclarations deploys module bytes with fuzzed memory and table
// declarations, imports, and counts and lengths of every kind: the host
// reads those itself, before the engine, refuses counts its bytes cannot
// hold, lowers table maxima by rewriting the table section and drops custom
// sections. Deploy must never panic or run the process out of memory, must
// refuse with ErrInvalidModule or accept, and on
// wazero must accept every module wazero itself compiles whose declarations
// are within the limits: a rewrite that broke a valid module would fail here.
func FuzzDeployDeclarations(f *testing.F) {
	h := newHost(f, func(c *host.Config) {
		c.MemoryLimit = 16 << 20
		c.MaxTableElements = 1000
		c.ReadyInstances = -1
	})
	ctx := context.Background()
	var rt wazero.Runtime
	if onWazero {
		rt = wazero.NewRuntime(ctx)
		f.Cleanup(func() { rt.Close(ctx) })
	}
	seed := func(m wt.Module) { m.Func("run", nil); f.Add(m.Bytes()) }
	seed(wt.Module{Memory: 1})
	seed(wt.Module{Memory: 256, MemoryMax: wt.Ptr(65536)})
	seed(wt.Module{Memory: 65536})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 10}}})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 10, Max: wt.Ptr(20)}, {Min: 0}}})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 10_000_000}}})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 1, Max: wt.Ptr(1<<32 - 1)}}})
	f.Add(fuzzGuest())
	f.Add(rawEcho())
	// Calls the host counts against its call stack limit, which it
	// rewrites: what wazero compiles, the rewritten module compiles too.
	f.Add(recursion(3))
	f.Add(fibGuest(3))
	// Counts and lengths that wazero allocates for before it reads what
	// they count: each ran the process out of memory, or allocated
	// gigabytes, from a module of a few dozen bytes.
	for _, tc := range hostileDecl() {
		f.Add(tc.wasm)
	}
	u, cat := wt.ULEB, wt.Cat
	base := func() []byte { m := wt.Module{Memory: 1}; m.Func("run", nil); return m.Bytes() }
	f.Add(wt.Insert(base(), 9, cat(u(1), []byte{3, 0}, u(1<<32-1), u(0))))                                // 2^32-1 element indexes
	f.Add(wt.Insert(base(), 9, cat(u(1), []byte{7, 0x70}, u(1<<32-1), []byte{0xd2, 0, 0x0b})))            // 2^32-1 element expressions
	f.Add(wt.Insert(base(), 11, cat(u(1), []byte{1}, u(1<<32-1))))                                        // a 4 GiB data segment
	f.Add(wt.Section(base(), 0, cat(wt.Str("name"), []byte{1, 6}, u(1<<32-1), []byte{0, 0})))             // 2^32-1 function names
	f.Add(wt.Section(base(), 0, cat(wt.Str("name"), []byte{2, 8}, u(1), u(0), u(1<<32-1), []byte{0, 0}))) // 2^32-1 local names
	f.Add(wt.Section(base(), 0, cat(u(1<<32-1), []byte{0})))                                              // a custom section name of 4 GiB
	f.Add(wt.Insert(base(), 7, cat(u(1), u(1<<32-1), []byte{0})))                                         // an export name of 4 GiB

	f.Fuzz(func(t *testing.T, wasm []byte) {
		if len(wasm) > 1<<16 {
			return
		}
		_, err := h.Deploy(ctx, "decl", wasm, "")
		if err != nil && !errors.Is(err, host.ErrInvalidModule) {
			t.Fatalf("deploy: %v, want nil or ErrInvalidModule", err)
		}
		// Only bytes the host's own reading let through may reach wazero
		// here: the others can run the process out of memory.
		if rt == nil || err == nil || !strings.Contains(err.Error(), "compile:") || strings.Contains(err.Error(), "malformed module") {
			return
		}
		// The custom sections the host drops unread may be as hostile as
		// the rest: wazero gets the module without them, as the host's
		// engine does; dropping them changes nothing else.
		if cm, cerr := rt.CompileModule(ctx, wasmbin.StripCustom(wasm)); cerr == nil {
			cm.Close(ctx)
			t.Fatalf("wazero compiles the module, the host does not: %v", err)
		}
	})
}
