package wasmbin

import (
	"reflect"
	"testing"

	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// FuzzRead reads fuzzed module bytes. Read must never panic, nor report
// more entries than there are bytes; when it accepts a module, what Rewrite
// makes of it must read again and declare the same memories, table minima
// and imports, with every table's maximum set and the maxima within the
// limit, and rewriting that must change nothing; StripCustom must leave no
// custom section but one "name".
func FuzzRead(f *testing.F) {
	const limit = 1000
	seed := func(m wt.Module) { m.Func("run", nil); f.Add(m.Bytes()) }
	seed(wt.Module{Memory: 1})
	seed(wt.Module{Memory: 2, MemoryMax: wt.Ptr(10), Data: []wt.Data{{Offset: 8, Bytes: []byte("abc")}}})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 10}, {Min: 5, Max: wt.Ptr(20)}}})
	seed(wt.Module{Memory: 1, Tables: []wt.Table{{Min: 10_000}}})
	f.Add(wt.Section(wt.Section(module(section(1, vec([]byte{0x60, 0, 0}))), 0, wt.Names("run")), 0, str(".debug_info")))
	f.Add(module(section(2, vec(cat(str("env"), str("mem"), []byte{2}, limits(1)), cat(str("env"), str("t"), []byte{1}, funcref(1))))))
	f.Add(module(section(4, vec(cat([]byte{0x40, 0, 0x63, 0x70}, limits(2), []byte{0xd0, 0x70, opEnd}), funcref(1, 1)))))
	f.Add(module(section(9, vec(cat([]byte{0}, i32(0), vec(u(0))), cat([]byte{5, 0x70}, vec([]byte{0xd2, 0, opEnd}))))))
	f.Add(module(code(cat(u(3), []byte{0x7f}), cat(u(1), []byte{0x63, 0x70}))))
	f.Add(module(names(sub(0, str("m")), sub(1, vec(cat(u(0), str("f")))), sub(2, vec(cat(u(0), vec(cat(u(0), str("x")))))))))
	f.Add(module(section(2, u(1<<31))))

	f.Fuzz(func(t *testing.T, wasm []byte) {
		m, err := Read(wasm)
		stripped := StripCustom(wasm)
		if err != nil {
			if !same(stripped, wasm) {
				t.Fatalf("StripCustom changed a module Read refuses (%v)", err)
			}
			return
		}
		// Every entry Read reports took at least a byte of wasm: what it
		// allocates is in proportion to the module, whatever it declares.
		if n := len(m.Memories) + len(m.Tables) + len(m.OtherImports) + len(m.drop); n > len(wasm) {
			t.Fatalf("Read reports %d memories, tables, imports and custom sections from %d bytes", n, len(wasm))
		}
		checkStripped(t, m, stripped)

		// The call-depth rewrite refuses what it cannot read, or makes
		// what Read accepts.
		if counted, _, err := m.Rewrite(wasm, RewriteLimits{TableElements: int(limit), CallStack: 1 << 20}); err == nil {
			if _, err := Read(counted); err != nil {
				t.Fatalf("Read refuses what the call-depth rewrite made: %v\n% x", err, counted)
			}
		}
		out := m.rewriteTables(wasm, int(limit))
		r, err := Read(out)
		if err != nil {
			t.Fatalf("Read refuses what Rewrite made: %v\n% x", err, out)
		}
		if len(r.drop) != 0 {
			t.Fatalf("Rewrite left %d custom sections to drop", len(r.drop))
		}
		if !reflect.DeepEqual(r.Memories, m.Memories) || !reflect.DeepEqual(r.OtherImports, m.OtherImports) {
			t.Fatalf("Rewrite changed the memories or imports: %+v %q, were %+v %q", r.Memories, r.OtherImports, m.Memories, m.OtherImports)
		}
		if tableSections(wasm) > 1 {
			// Malformed (each section appears once; the engines refuse
			// it), and Rewrite replaces only the last: what it makes
			// declares the other sections' tables twice.
			return
		}
		if len(r.Tables) != len(m.Tables) {
			t.Fatalf("Rewrite made %d tables of %d", len(r.Tables), len(m.Tables))
		}
		var minima, maxima uint64
		for i, tb := range r.Tables {
			if tb.Min != m.Tables[i].Min {
				t.Fatalf("Rewrite changed table %d's minimum from %d to %d", i, m.Tables[i].Min, tb.Min)
			}
			minima += uint64(tb.Min)
			maxima += uint64(tb.Max)
		}
		if minima > limit {
			return // the caller refuses it: Rewrite assumes the minima fit
		}
		for i, tb := range r.Tables {
			if !tb.HasMax {
				t.Fatalf("table %d has no maximum after Rewrite", i)
			}
		}
		if maxima > limit {
			t.Fatalf("the tables' maxima sum to %d after Rewrite, above %d: %+v", maxima, limit, r.Tables)
		}
		if again := r.rewriteTables(out, int(limit)); !same(again, out) {
			t.Fatalf("a second Rewrite changed the bytes again")
		}
	})
}

// tableSections is the number of table sections in wasm.
func tableSections(wasm []byte) int {
	n := 0
	for _, s := range sections(wasm) {
		if s[0] == 4 {
			n++
		}
	}
	return n
}

// checkStripped checks StripCustom's output: it reads, declares what m
// does, and has no custom section but at most one "name".
func checkStripped(t *testing.T, m *Module, stripped []byte) {
	t.Helper()
	s, err := Read(stripped)
	if err != nil {
		t.Fatalf("Read refuses what StripCustom made: %v", err)
	}
	if !reflect.DeepEqual(s.Memories, m.Memories) || !reflect.DeepEqual(s.Tables, m.Tables) || !reflect.DeepEqual(s.OtherImports, m.OtherImports) {
		t.Fatalf("StripCustom changed what is declared")
	}
	named := 0
	for _, sec := range sections(stripped) {
		if sec[0] != 0 {
			continue
		}
		r := reader{b: sec, i: 1}
		r.u32()
		if r.name() != "name" || r.err != nil {
			t.Fatalf("StripCustom left a custom section other than \"name\": % x", sec)
		}
		named++
	}
	if named > 1 {
		t.Fatalf("StripCustom left %d name sections", named)
	}
	if again := StripCustom(stripped); !same(again, stripped) {
		t.Fatalf("a second StripCustom changed the bytes again")
	}
}
