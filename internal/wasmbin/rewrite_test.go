package wasmbin

import (
	"bytes"
	"reflect"
	"testing"
)

// same reports whether a and b are the same slice, not only equal bytes.
func same(a, b []byte) bool {
	return len(a) == len(b) && cap(a) == cap(b) && (len(a) == 0 || &a[0] == &b[0])
}

func TestRewriteCapsTableMaxima(t *testing.T) {
	lim := func(lo, hi uint32) Limits { return Limits{Min: lo, Max: hi, HasMax: true} }
	for _, tc := range []struct {
		name   string
		tables [][]byte
		limit  int
		want   []Limits
	}{
		{"no maximum", [][]byte{funcref(10)}, 1000, []Limits{lim(10, 1000)}},
		{"a maximum above the limit", [][]byte{funcref(10, 1<<32-1)}, 1000, []Limits{lim(10, 1000)}},
		{"a maximum below the minimum", [][]byte{funcref(10, 5)}, 100, []Limits{lim(10, 100)}},
		{"the limit itself", [][]byte{funcref(1000)}, 1000, []Limits{lim(1000, 1000)}},
		{"a limit of 0", [][]byte{funcref(0)}, 0, []Limits{lim(0, 0)}},
		{"the first table takes the room", [][]byte{funcref(10), funcref(0)}, 100, []Limits{lim(10, 100), lim(0, 0)}},
		{"its maximum leaves room for the next", [][]byte{funcref(10, 20), funcref(5)}, 100, []Limits{lim(10, 20), lim(5, 80)}},
		{"three tables share it", [][]byte{funcref(1, 4), funcref(2), funcref(3, 1000)}, 50, []Limits{lim(1, 4), lim(2, 43), lim(3, 3)}},
		{"one within the limit, one without a maximum", [][]byte{funcref(1, 2), funcref(1)}, 10, []Limits{lim(1, 2), lim(1, 8)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := section(1, vec([]byte{0x60, 0, 0}))
			after := section(5, vec(limits(1)))
			wasm := module(before, section(4, vec(tc.tables...)), after)
			out := read(t, wasm).rewriteTables(wasm, tc.limit)
			m := read(t, out)
			if !reflect.DeepEqual(m.Tables, tc.want) {
				t.Fatalf("tables after Rewrite %+v, want %+v", m.Tables, tc.want)
			}
			s := sections(out)
			if len(s) != 3 || !bytes.Equal(s[0], before) || !bytes.Equal(s[2], after) {
				t.Fatalf("Rewrite changed more than the table section: % x", out)
			}
			if again := m.rewriteTables(out, tc.limit); !same(again, out) {
				t.Fatalf("a second Rewrite changed the bytes again: % x", again)
			}
		})
	}
}

func TestRewriteKeepsATableInitializer(t *testing.T) {
	head, init := []byte{0x40, 0, 0x63, 0x70}, []byte{0xd0, 0x70, opEnd}
	wasm := module(section(4, vec(cat(head, limits(2), init), funcref(1, 1))))
	got := read(t, wasm).rewriteTables(wasm, 300)
	want := module(section(4, vec(cat(head, limits(2, 299), init), funcref(1, 1))))
	if !bytes.Equal(got, want) {
		t.Fatalf("Rewrite:\n got % x\nwant % x", got, want)
	}
}

func TestRewriteCapsTablesAndDropsCustomSections(t *testing.T) {
	wasm := module(custom("a"), section(4, vec(funcref(1))), custom("b"), custom("name"), custom("c"))
	got := read(t, wasm).rewriteTables(wasm, 8)
	if want := module(section(4, vec(funcref(1, 8))), custom("name")); !bytes.Equal(got, want) {
		t.Fatalf("Rewrite:\n got % x\nwant % x", got, want)
	}
}

func TestRewriteReturnsTheSameSliceWhenNothingChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wasm  []byte
		limit int
	}{
		{"the preamble alone", module(), 10},
		{"no table", module(section(1, vec([]byte{0x60, 0, 0})), section(5, vec(limits(1)))), 10},
		{"a table within the limit", module(section(4, vec(funcref(1, 5)))), 10},
		{"tables that use it all", module(section(4, vec(funcref(1, 5), funcref(0, 5)))), 10},
		{"an empty table section", module(section(4, vec())), 10},
		{"a well-formed name section", module(section(4, vec(funcref(0, 0))), names(sub(0, str("m")))), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, tc.wasm).rewriteTables(tc.wasm, tc.limit); !same(got, tc.wasm) {
				t.Errorf("Rewrite returned another slice: % x", got)
			}
			if got := StripCustom(tc.wasm); !same(got, tc.wasm) {
				t.Errorf("StripCustom returned another slice: % x", got)
			}
		})
	}
}
