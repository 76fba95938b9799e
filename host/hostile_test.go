package host_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// Hostile guests: modules that try to make the host allocate without bound,
// overflow its stack, or reach the machine. Each must get a clear error,
// lose nothing, and leave the host serving other executions.

// i32Guest completes m (its imports, memory and tables set, no functions yet)
// with a run that computes an i32 with code and resolves with its four
// little-endian bytes. run has two i32 locals.
func i32Guest(m wt.Module, code []byte) []byte {
	resolve := m.Import("reprise_v1", "resolve", []byte{wt.I32, wt.I32}, []byte{wt.I32})
	if m.Memory == 0 {
		m.Memory = 1
	}
	m.Func("run", []byte{wt.I32, wt.I32}, wt.Cat(
		wt.I32Const(0), code, wt.I32Store,
		wt.I32Const(0), wt.I32Const(4), wt.Call(resolve), wt.Drop))
	return m.Bytes()
}

// runI32 deploys an i32Guest, runs it and returns the i32 it resolved with.
func runI32(t *testing.T, h *testHost, name string, wasm []byte) int32 {
	t.Helper()
	h.deployRaw(name, wasm)
	p := h.run(name, []byte{}, host.InvokeOptions{})
	if p.State != store.Resolved || len(p.Value.Data) != 4 {
		t.Fatalf("%s: got %s %s, want RESOLVED with an i32", name, p.State, p.Value.Data)
	}
	return int32(binary.LittleEndian.Uint32(p.Value.Data))
}

// stillServes checks that h runs a well-behaved guest to its end.
func stillServes(t *testing.T, h *testHost) {
	t.Helper()
	h.deployRaw("well-behaved", rawEcho())
	p := h.run("well-behaved", []byte(`"still here"`), host.InvokeOptions{})
	if p.State != store.Resolved || string(p.Value.Data) != `"still here"` {
		t.Fatalf("the host stopped serving: %s %s", p.State, p.Value.Data)
	}
}

// deployRefused checks that deploying wasm fails with ErrInvalidModule and a
// message holding every one of want.
func deployRefused(t *testing.T, h *testHost, wasm []byte, want ...string) {
	t.Helper()
	_, err := h.Deploy(context.Background(), "hostile", wasm, "")
	if !errors.Is(err, host.ErrInvalidModule) {
		t.Fatalf("deploy: err = %v, want ErrInvalidModule", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("deploy error %q does not say %q", err, w)
		}
	}
}

const memLimit = 16 << 20 // 256 pages

func TestDeployRefusesMemoryDeclaredAboveTheLimit(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MemoryLimit = memLimit })
	for _, tc := range []struct {
		name     string
		min      int
		max      *uint32
		declared string
	}{
		{"4 GiB, no maximum", 65536, nil, "65536 pages (4 GiB)"},
		{"4 GiB, 4 GiB maximum", 65536, wt.Ptr(65536), "65536 pages (4 GiB)"},
		{"one page over, no maximum", 257, nil, "257 pages"},
		{"one page over, huge maximum", 257, wt.Ptr(65536), "257 pages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: tc.min, MemoryMax: tc.max}
			m.Func("run", nil)
			deployRefused(t, h, m.Bytes(), tc.declared, "memory limit of 256 pages (16 MiB, Config.MemoryLimit)")
		})
	}
	// What counts is the initial size: a maximum above the limit is the
	// limit, and a module may start right at it.
	for _, tc := range []struct {
		name string
		min  int
		max  *uint32
	}{
		{"at the limit", 256, nil},
		{"small with a huge maximum", 1, wt.Ptr(65536)},
	} {
		t.Run("accepted "+tc.name, func(t *testing.T) {
			m := wt.Module{Memory: tc.min, MemoryMax: tc.max}
			if got := runI32(t, h, "mem", i32Guest(m, wt.MemorySize)); got != int32(tc.min) {
				t.Fatalf("memory.size = %d pages, want %d", got, tc.min)
			}
		})
	}
	stillServes(t, h)
}

func TestMemoryGrowPastTheLimitReturnsMinusOne(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MemoryLimit = memLimit })
	for _, tc := range []struct {
		name  string
		max   *uint32
		pages int32
		want  int32
	}{
		{"no maximum, to one page over", nil, 256, -1},
		{"huge maximum, to one page over", wt.Ptr(65536), 256, -1},
		{"no maximum, by 4 GiB", nil, 65536, -1},
		{"no maximum, by -1 (unsigned: 2^32-1 pages)", nil, -1, -1},
		{"no maximum, up to the limit", nil, 255, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: 1, MemoryMax: tc.max}
			got := runI32(t, h, "grow", i32Guest(m, wt.Cat(wt.I32Const(tc.pages), wt.MemoryGrow)))
			if got != tc.want {
				t.Fatalf("memory.grow(%d) from 1 page under a 256-page limit = %d, want %d", tc.pages, got, tc.want)
			}
		})
	}
	stillServes(t, h)
}

// A guest that grows its memory until it fails and then traps, as a Rust or C
// guest aborts when its allocator fails, is rejected with a message that says
// the memory limit was reached.
func TestGuestTrappingAtTheMemoryLimitIsToldSo(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.MemoryLimit = memLimit
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
	})
	m := wt.Module{Memory: 1}
	// loop: if memory.grow(16) == -1 { unreachable }; br loop
	m.Func("run", nil, wt.Cat([]byte{0x03, 0x40}, wt.I32Const(16), wt.MemoryGrow, wt.I32Const(-1),
		[]byte{0x46, 0x04, 0x40, 0x00, 0x0b, 0x0c, 0x00, 0x0b})) // i32.eq; if; unreachable; end; br 0; end
	h.deployRaw("hog", m.Bytes())
	p := h.run("hog", []byte{}, host.InvokeOptions{})
	if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "memory limit") || !strings.Contains(string(p.Value.Data), "16 MiB") {
		t.Fatalf("got %s %s, want REJECTED naming the 16 MiB memory limit", p.State, p.Value.Data)
	}
	stillServes(t, h)
}

// A Go guest that allocates without end dies of "out of memory"; the
// rejection names the limit it ran into.
func TestGoGuestOutOfMemoryNamesTheLimit(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.MemoryLimit = 48 << 20
		c.Retry = host.RetryPolicy{MaxAttempts: 1}
	})
	h.deploy("misbehave", "misbehave")
	p := h.run("misbehave", map[string]string{"mode": "grow"}, host.InvokeOptions{})
	if v := string(p.Value.Data); p.State != store.Rejected || !strings.Contains(v, "out of memory") || !strings.Contains(v, "memory limit of 48 MiB") {
		t.Fatalf("got %s %s, want REJECTED saying out of memory at the 48 MiB memory limit", p.State, p.Value.Data)
	}
	stillServes(t, h)
}

func TestDeployRefusesHugeTables(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		name   string
		tables []wt.Table
		total  string
	}{
		{"10,000,000 elements", []wt.Table{{Min: 10_000_000}}, "10000000 elements"},
		{"2^32-1 elements with that maximum", []wt.Table{{Min: 1<<32 - 1, Max: wt.Ptr(1<<32 - 1)}}, "4294967295 elements"},
		{"two tables over the limit together", []wt.Table{{Min: 600_000}, {Min: 600_000, Max: wt.Ptr(600_000)}}, "1200000 elements"},
		{"4096 tables of 1,000 elements", manyTables(4096, 1000), "4096000 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: 1, Tables: tc.tables}
			m.Func("run", nil)
			deployRefused(t, h, m.Bytes(), tc.total, "limit of 1000000 table elements (Config.MaxTableElements)")
		})
	}
	t.Run("accepted at the limit", func(t *testing.T) {
		m := wt.Module{Memory: 1, Tables: []wt.Table{{Min: 400_000}, {Min: 600_000}}}
		if got := runI32(t, h, "tables", i32Guest(m, wt.Cat(wt.I32Const(0), wt.I32Const(0), []byte{0x6a}))); got != 0 {
			t.Fatal(got)
		}
	})
	stillServes(t, h)
}

func manyTables(n int, min uint32) []wt.Table {
	ts := make([]wt.Table, n)
	for i := range ts {
		ts[i].Min = min
	}
	return ts
}

// table.grow past MaxTableElements fails as the spec lets any grow fail,
// with -1, whatever maximum the module declared; within it, it works.
func TestTableGrowPastTheLimitReturnsMinusOne(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.MaxTableElements = 1000 })
	grow := func(table uint32, n int32) []byte {
		return wt.Cat(wt.RefNullFunc, wt.I32Const(n), wt.TableGrow(table))
	}
	for _, tc := range []struct {
		name   string
		tables []wt.Table
		code   []byte
		want   int32
	}{
		{"no maximum, one past", []wt.Table{{Min: 10}}, grow(0, 991), -1},
		{"no maximum, by 2^32-2", []wt.Table{{Min: 10}}, grow(0, -2), -1},
		{"no maximum, to the limit", []wt.Table{{Min: 10}}, grow(0, 990), 10},
		{"2^32-1 maximum, one past", []wt.Table{{Min: 10, Max: wt.Ptr(1<<32 - 1)}}, grow(0, 991), -1},
		{"maximum under the limit is kept", []wt.Table{{Min: 10, Max: wt.Ptr(20)}}, grow(0, 11), -1},
		{"second table gets what the first left", []wt.Table{{Min: 10, Max: wt.Ptr(500)}, {Min: 10}}, grow(1, 501), -1},
		{"second table within what is left", []wt.Table{{Min: 10, Max: wt.Ptr(500)}, {Min: 10}}, grow(1, 490), 10},
		{"two tables grown to the limit together", []wt.Table{{Min: 0}, {Min: 0}},
			wt.Cat(grow(0, 600), wt.Drop, grow(1, 401)), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: 1, Tables: tc.tables}
			if got := runI32(t, h, "tgrow", i32Guest(m, tc.code)); got != tc.want {
				t.Fatalf("table.grow = %d, want %d", got, tc.want)
			}
		})
	}
	stillServes(t, h)
}

// Unbounded recursion traps with a stack overflow on both engines; the
// attempt is retried per the policy and then rejected, and the host goes on
// serving other executions meanwhile.
func TestDeepRecursionTrapsWithStackOverflow(t *testing.T) {
	h := newHost(t, func(c *host.Config) {
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
	})
	m := wt.Module{Memory: 1}
	// run(): a frame of eight i64 locals, then run() again, for ever.
	m.Func("run", []byte{wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64, wt.I64}, wt.Call(0))
	h.deployRaw("recurse", m.Bytes())
	h.deployRaw("echo", rawEcho())
	ctx := context.Background()
	id, err := h.Invoke(ctx, "recurse", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // other executions run while the recursion fails
		p := h.run("echo", []byte(`1`), host.InvokeOptions{})
		if p.State != store.Resolved {
			t.Fatalf("echo beside the recursion: %s %s", p.State, p.Value.Data)
		}
	}
	p := h.await(id)
	if p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "stack overflow") {
		t.Fatalf("got %s %s, want REJECTED with a stack overflow", p.State, p.Value.Data)
	}
	if e, err := h.Execution(ctx, id); err != nil || e.Attempt != 2 {
		t.Fatalf("attempt %d (%v), want the retry policy's 2", e.Attempt, err)
	}
	stillServes(t, h)
}

// recursion is a guest whose entry calls down(depth), a function that
// calls itself until its argument is 0, then returns.
func recursion(depth int32) []byte {
	m := wt.Module{Memory: 1}
	m.Func("run", nil, wt.I32Const(depth), wt.Call(1))
	m.Funcs = append(m.Funcs, wt.Func{Params: []byte{wt.I32}, Code: wt.Cat(
		[]byte{0x20, 0, 0x04, 0x40},                               // local.get 0, if
		[]byte{0x20, 0}, wt.I32Const(1), []byte{0x6b}, wt.Call(1), // down(n-1)
		[]byte{0x0b}, // end
	)})
	return m.Bytes()
}

// The host bounds the call stack a guest's recursion takes (engines keep
// it outside linear memory; wazero lets it reach 400 MB): recursion within
// Config.MaxCallStack returns, the same recursion past it traps with a
// stack overflow naming the limit.
func TestRecursionIsBoundedByTheCallStackLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    int
		rejected bool
	}{
		{"within the default limit", 0, false},
		{"past a limit of 64 KiB", 64 << 10, true},
		{"with the count disabled", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, func(c *host.Config) {
				c.MaxCallStack = tc.limit
				c.Retry = host.RetryPolicy{MaxAttempts: 1}
			})
			h.deployRaw("down", recursion(5000))
			p := h.run("down", nil, host.InvokeOptions{})
			switch {
			case !tc.rejected && p.State != store.Resolved:
				t.Fatalf("got %s %s, want RESOLVED", p.State, p.Value.Data)
			case tc.rejected && (p.State != store.Rejected || !strings.Contains(string(p.Value.Data), "call stack limit of 65536 bytes")):
				t.Fatalf("got %s %s, want REJECTED naming the call stack limit", p.State, p.Value.Data)
			}
			stillServes(t, h)
		})
	}
}

// WASI errno values.
const (
	errnoBadf       = 8
	errnoNotsup     = 58
	errnoPerm       = 63
	errnoNotcapable = 76
)

// The sandbox has no preopened directories, no environment and no sockets:
// a guest that tries gets WASI errors, not the machine's files.
func TestWASIGivesNoFilesEnvironmentOrSockets(t *testing.T) {
	h := newHost(t)
	const wasi = "wasi_snapshot_preview1"
	var i32, i64 byte = wt.I32, wt.I64
	path := "/etc/passwd"
	for _, tc := range []struct {
		name   string
		fn     string
		params []byte
		args   []byte
		want   []int32 // any of these
	}{
		// path_open(dirfd 3, dirflags, path, path_len, oflags, rights (fd_read), rights_inheriting, fdflags, fd_out)
		{"open a file", "path_open", []byte{i32, i32, i32, i32, i32, i64, i64, i32, i32},
			wt.Cat(wt.I32Const(3), wt.I32Const(0), wt.I32Const(1024), wt.I32Const(int32(len(path))), wt.I32Const(0),
				wt.I64Const(2), wt.I64Const(2), wt.I32Const(0), wt.I32Const(64)), []int32{errnoBadf, errnoPerm, errnoNotcapable}},
		// fd_prestat_get(3, buf): how a libc finds preopened directories.
		{"find a preopened directory", "fd_prestat_get", []byte{i32, i32},
			wt.Cat(wt.I32Const(3), wt.I32Const(64)), []int32{errnoBadf}},
		// fd_write(3, iovs, 1, nwritten): write to a file descriptor never opened.
		{"write a file", "fd_write", []byte{i32, i32, i32, i32},
			wt.Cat(wt.I32Const(3), wt.I32Const(64), wt.I32Const(1), wt.I32Const(96)), []int32{errnoBadf}},
		// sock_accept(3, flags, fd_out): there is no listening socket.
		{"accept a connection", "sock_accept", []byte{i32, i32, i32},
			wt.Cat(wt.I32Const(3), wt.I32Const(0), wt.I32Const(64)), []int32{errnoBadf, errnoNotsup}},
		// sock_send(3, iovs, 1, flags, nsent)
		{"send on a socket", "sock_send", []byte{i32, i32, i32, i32, i32},
			wt.Cat(wt.I32Const(3), wt.I32Const(64), wt.I32Const(1), wt.I32Const(0), wt.I32Const(96)), []int32{errnoBadf, errnoNotsup}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: 1, Data: []wt.Data{{Offset: 1024, Bytes: []byte(path)}}}
			fn := m.Import(wasi, tc.fn, tc.params, []byte{i32})
			got := runI32(t, h, "wasi", i32Guest(m, wt.Cat(tc.args, wt.Call(fn))))
			for _, w := range tc.want {
				if got == w {
					return
				}
			}
			t.Fatalf("%s returned errno %d, want one of %v", tc.fn, got, tc.want)
		})
	}
	t.Run("read the environment", func(t *testing.T) {
		m := wt.Module{Memory: 1}
		sizes := m.Import(wasi, "environ_sizes_get", []byte{i32, i32}, []byte{i32})
		get := m.Import(wasi, "environ_get", []byte{i32, i32}, []byte{i32})
		// errno of environ_sizes_get + the count + errno of environ_get +
		// the first pointer environ_get wrote (there must be none: 0).
		code := wt.Cat(wt.I32Const(64), wt.I32Const(68), wt.Call(sizes),
			wt.I32Const(64), []byte{0x28, 2, 0}, []byte{0x6a}, // i32.load; i32.add
			wt.I32Const(128), wt.I32Const(256), wt.Call(get), []byte{0x6a},
			wt.I32Const(128), []byte{0x28, 2, 0}, []byte{0x6a})
		if got := runI32(t, h, "env", i32Guest(m, code)); got != 0 {
			t.Fatalf("the environment is not empty: %d", got)
		}
	})
	t.Run("a WASI call that does not exist", func(t *testing.T) {
		m := wt.Module{Memory: 1}
		m.Import(wasi, "sock_connect", []byte{i32, i32, i32}, []byte{i32})
		m.Func("run", nil)
		deployRefused(t, h, m.Bytes(), "sock_connect", wasi)
	})
	stillServes(t, h)
}

// The host offers functions only: a module that imports a memory, table or
// global from the host is refused, naming the import.
func TestDeployRefusesNonFunctionImports(t *testing.T) {
	h := newHost(t)
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	for _, tc := range []struct {
		name string
		desc []byte
		want string
	}{
		{"memory", []byte{2, 0, 1}, "env.memory (memory)"},
		{"table", []byte{1, 0x70, 0, 1}, "env.memory (table)"},
		{"global", []byte{3, wt.I32, 0}, "env.memory (global)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte("\x00asm\x01\x00\x00\x00")
			b = wt.Section(b, 2, wt.Cat([]byte{1}, str("env"), str("memory"), tc.desc))
			deployRefused(t, h, b, tc.want, "offers only functions")
		})
	}
	stillServes(t, h)
}

// hostileDecl are modules of a few bytes whose counts and lengths declare
// far more than their bytes hold: an engine that allocates for a count
// before it reads what it counts (wazero does) would allocate gigabytes, or
// fail the process, for each. want is the refusal, or "" when the module is
// accepted (without the part that lied: a custom section is dropped).
func hostileDecl() []struct {
	name string
	wasm []byte
	want []string
} {
	const many = 1 << 24 // large enough to see, small enough to survive without the check
	u, s, cat := wt.ULEB, wt.Str, wt.Cat
	base := func() wt.Module { m := wt.Module{Memory: 1}; m.Func("run", nil); return m }
	with := func(id byte, payload []byte) []byte { return wt.Insert(base().Bytes(), id, payload) }
	custom := func(payload []byte) []byte { return wt.Section(base().Bytes(), 0, payload) }
	names := func(sub byte, content []byte) []byte {
		return custom(cat(s("name"), []byte{sub}, u(uint32(len(content))), content))
	}
	// A function type () -> (), then one whose parameters are counted in
	// the millions, in the type section the module already has: replace it.
	types := func(payload []byte) []byte {
		b := base().Bytes()
		size := int(b[9]) // the type section comes first and is short
		return append(wt.Section(b[:8:8], 1, payload), b[10+size:]...)
	}
	return []struct {
		name string
		wasm []byte
		want []string
	}{
		{"a data segment of 4 GiB in 3 bytes", with(11, cat(u(1), []byte{0}, wt.I32Const(0), []byte{0x0b}, u(1<<32-1), []byte("abc"))),
			[]string{"data segment", "4294967295 bytes declared with 3 left"}},
		{"a passive data segment of 16 MiB in 3 bytes", with(11, cat(u(1), []byte{1}, u(many), []byte("abc"))),
			[]string{"data segment", "16777216 bytes declared"}},
		{"two data segments, the second too long", with(11, cat(u(2), []byte{1}, u(1), []byte("a"), []byte{1}, u(many), []byte("bc"))),
			[]string{"data segment", "16777216 bytes declared with 2 left"}},
		{"an element segment of 2^24 function indexes", with(9, cat(u(1), []byte{0}, wt.I32Const(0), []byte{0x0b}, u(many), u(0))),
			[]string{"element function indexes", "16777216 of them"}},
		{"a passive element segment of 2^24 expressions", with(9, cat(u(1), []byte{5, 0x70}, u(many), []byte{0xd2, 0, 0x0b})),
			[]string{"element expressions", "16777216 of them"}},
		{"a declarative element segment of 2^24 function indexes", with(9, cat(u(1), []byte{3, 0}, u(many), u(0))),
			[]string{"element function indexes", "16777216 of them"}},
		{"an export name of 16 MiB", with(7, cat(u(1), u(many), []byte("run"))),
			[]string{"name runs past the end"}},
		{"a function type of 2^24 parameters", types(cat(u(1), []byte{0x60}, u(many), []byte{wt.I32, 0})),
			[]string{"value types", "16777216 of them"}},
		{"a recursion group of 2^24 types", types(cat(u(1), []byte{0x4e}, u(many), []byte{0x60, 0, 0})),
			[]string{"recursion group types", "16777216 of them"}},
		// A reference-typed local takes more than one byte: read as one,
		// the next declaration's count would be taken for a type and its
		// 2^24 locals never counted.
		{"locals hidden behind a reference type", func() []byte {
			m := wt.Module{Memory: 1}
			m.Funcs = append(m.Funcs, wt.Func{Export: "run"})
			b := m.Bytes()
			body := cat(u(2), u(1), []byte{0x63, 0x70}, u(many), []byte{wt.I32}, []byte{0x0b})
			i := bytes.LastIndex(b, []byte{10, 4, 1, 2, 0, 0x0b}) // the code section: one body [0 locals, end]
			return wt.Section(b[:i:i], 10, cat(u(1), u(uint32(len(body))), body))
		}(), []string{"16777217 locals"}},
		{"a name section of 2^24 function names", names(1, cat(u(many), u(0), s("run"))), nil},
		{"a name section of 2^24 local names", names(2, cat(u(1), u(0), u(many), u(0), s("x"))), nil},
		{"a name section with a module name of 16 MiB", names(0, cat(u(many), []byte("m"))), nil},
		{"a custom section whose name is 16 MiB long", custom(cat(u(many), []byte("x"))), nil},
		{"a DWARF section of garbage", custom(cat(s(".debug_info"), bytes.Repeat([]byte{0xff}, 64))), nil},
	}
}

// TestDeployAllocatesInProportionToTheModule deploys modules that declare
// far more than their bytes hold: each is refused, or accepted without the
// custom section that lied, before the engine allocates for what it
// declares; deploying one allocates megabytes at most, not what it declares.
func TestDeployAllocatesInProportionToTheModule(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.ReadyInstances = -1 })
	for _, tc := range hostileDecl() {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := h.Deploy(context.Background(), "decl", tc.wasm, "")
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("deploying %d bytes allocated %d MiB", len(tc.wasm), alloc>>20)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("deploy: %v, want it accepted without the custom section", err)
				}
				return
			}
			if !errors.Is(err, host.ErrInvalidModule) {
				t.Fatalf("deploy: err = %v, want ErrInvalidModule", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("deploy error %q does not say %q", err, w)
				}
			}
		})
	}
	stillServes(t, h)
}

// The "name" section is kept, so that a trap names the function it
// happened in; other custom sections are dropped before compiling, and the
// module is stored and hashed as it was deployed.
func TestTrapNamesFunctionsAfterCustomSectionsAreDropped(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.Retry = host.RetryPolicy{MaxAttempts: 1} })
	m := wt.Module{Memory: 1}
	m.Func("run", nil, wt.Call(1))
	m.Func("", nil, []byte{0x00}) // unreachable
	wasm := wt.Section(m.Bytes(), 0, wt.Cat(wt.Str(".debug_info"), bytes.Repeat([]byte{0xff}, 64)))
	wasm = wt.Section(wasm, 0, wt.Names("run", "trap_in_here"))
	wasm = wt.Section(wasm, 0, wt.Cat(wt.Str("producers"), []byte{0}))
	f, err := h.Deploy(context.Background(), "trap", wasm, "")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(wasm); f.Module != hex.EncodeToString(sum[:]) {
		t.Errorf("module hash %s, want the sha256 of the bytes deployed", f.Module)
	}
	if got, err := h.store.GetModule(context.Background(), f.Module); err != nil || !bytes.Equal(got, wasm) {
		t.Errorf("stored module differs from the bytes deployed (%v)", err)
	}
	p := h.run("trap", []byte{}, host.InvokeOptions{})
	if v := string(p.Value.Data); p.State != store.Rejected || !strings.Contains(v, "unreachable") || !strings.Contains(v, "trap_in_here") {
		t.Fatalf("got %s %s, want REJECTED with a trap in trap_in_here", p.State, p.Value.Data)
	}
}
