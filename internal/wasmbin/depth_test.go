package wasmbin

import (
	"bytes"
	"testing"

	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// Which calls count: those that can take part in a recursion, and only
// those.
func TestCallDepthCountsTheCallsThatCanRecurse(t *testing.T) {
	callIndirect := []byte{opI32Const, 0, opCallIndirect, 0, 0}
	for _, tc := range []struct {
		name    string
		imports int
		funcs   [][]byte // bodies, by defined index
		tables  bool
		counted int
	}{
		{"no calls", 0, [][]byte{nil}, false, 0},
		{"a chain without a cycle", 0, [][]byte{wt.Call(1), wt.Call(2), nil}, false, 0},
		{"a function calling itself", 0, [][]byte{wt.Call(0)}, false, 1},
		{"a cycle of three, and a call into it", 0, [][]byte{wt.Call(1), wt.Call(2), wt.Call(3), wt.Call(1)}, false, 3},
		{"calls to an import", 1, [][]byte{wt.Cat(wt.Call(0), wt.Call(0))}, false, 0},
		{"an indirect call", 0, [][]byte{callIndirect}, true, 1},
		{"a self call after an import", 1, [][]byte{wt.Cat(wt.Call(0), wt.Call(1))}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wt.Module{Memory: 1}
			for range tc.imports {
				m.Import("env", "f", nil, nil)
			}
			if tc.tables {
				m.Tables = []wt.Table{{Min: 1}}
			}
			for _, b := range tc.funcs {
				m.Funcs = append(m.Funcs, wt.Func{Code: b})
			}
			wasm := m.Bytes()
			out, d, err := read(t, wasm).Rewrite(wasm, RewriteLimits{TableElements: 10, CallStack: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if d.Counted != tc.counted {
				t.Fatalf("counted %d calls, want %d", d.Counted, tc.counted)
			}
			if tc.counted == 0 {
				if !bytes.Equal(out, read(t, wasm).rewriteTables(wasm, 10)) {
					t.Fatalf("the module changed with nothing to count")
				}
				return
			}
			if want := uint32(tc.imports + len(tc.funcs)); d.Guard != want {
				t.Fatalf("guard is function %d, want %d (after every other)", d.Guard, want)
			}
			if _, err := Read(out); err != nil {
				t.Fatalf("Read refuses the rewritten module: %v", err)
			}
		})
	}
}

// An instruction the rewrite does not know is refused, naming it: its
// calls could not be counted.
func TestCallDepthRefusesAnUnknownInstruction(t *testing.T) {
	m := wt.Module{Memory: 1}
	m.Funcs = []wt.Func{{Code: wt.Cat(wt.Call(0), []byte{0x06, 0x40})}} // try (exceptions)
	wasm := m.Bytes()
	_, _, err := read(t, wasm).Rewrite(wasm, RewriteLimits{CallStack: 1 << 20})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("unknown instruction 0x06")) {
		t.Fatalf("got %v, want an unknown instruction 0x06", err)
	}
}

// Every instruction with an immediate is stepped over whole: a call's
// index hidden in another instruction's immediate is not a call.
func TestInstrStepsOverImmediates(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		ops  int
	}{
		{"i32.const holding 0x10", []byte{0x41, 0x10}, 1},
		{"i64.const of ten bytes", []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 1},
		{"f64.const", []byte{0x44, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10}, 1},
		{"br_table", []byte{0x0e, 2, 0, 1, 0}, 1},
		{"a load with a memory index", []byte{0x28, 0x40, 0, 4}, 1},
		{"memory.copy", []byte{0xfc, 10, 0, 0}, 1},
		{"v128.const", append([]byte{0xfd, 12}, bytes.Repeat([]byte{0x10}, 16)...), 1},
		{"a lane extract", []byte{0xfd, 21, 3}, 1},
		{"a block with a type index", []byte{0x02, 0x05}, 1},
		{"select with types", []byte{0x1c, 1, 0x7f}, 1},
		{"call then end", []byte{0x10, 0, 0x0b}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reader{b: tc.code}
			ops := 0
			for r.i < len(r.b) && r.err == nil {
				r.instr()
				ops++
			}
			if r.err != nil || ops != tc.ops || r.i != len(tc.code) {
				t.Fatalf("%d instructions, at %d of %d (%v), want %d", ops, r.i, len(tc.code), r.err, tc.ops)
			}
		})
	}
}
