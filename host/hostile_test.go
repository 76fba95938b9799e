package host_test

import (
	"context"
	"encoding/binary"
	"errors"
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
