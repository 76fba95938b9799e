package wasmbin

import (
	"testing"

	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// Modules are assembled by hand, section by section, so that every count
// and length is the one the test means.
var (
	u   = wt.ULEB
	str = wt.Str
	cat = wt.Cat
)

const preamble = "\x00asm\x01\x00\x00\x00"

// module is the preamble, then the sections in the order given.
func module(sections ...[]byte) []byte {
	return cat(append([][]byte{[]byte(preamble)}, sections...)...)
}

// section is a section: its id, its length, then its payload.
func section(id byte, payload ...[]byte) []byte { return wt.Section(nil, id, cat(payload...)) }

// vec is a vector: the count of its entries, then the entries.
func vec(entries ...[]byte) []byte {
	return cat(append([][]byte{u(uint32(len(entries)))}, entries...)...)
}

// custom is a custom section named name.
func custom(name string, payload ...[]byte) []byte {
	return section(0, append([][]byte{str(name)}, payload...)...)
}

// names is a "name" custom section with the subsections given as id and
// content.
func names(subs ...[]byte) []byte { return custom("name", subs...) }

// sub is a subsection of a "name" section.
func sub(id byte, content ...[]byte) []byte { return section(id, content...) }

// limits are limits without a maximum (flags 0) or with one (flags 1).
func limits(lo uint32, hi ...uint32) []byte {
	if len(hi) == 0 {
		return cat([]byte{0}, u(lo))
	}
	return cat([]byte{1}, u(lo), u(hi[0]))
}

// funcref is a funcref table of the given limits.
func funcref(lo uint32, hi ...uint32) []byte { return cat([]byte{0x70}, limits(lo, hi...)) }

// i32 is the constant expression i32.const v (v < 64).
func i32(v byte) []byte { return []byte{0x41, v, opEnd} }

// sections splits wasm after its preamble into its sections, each with
// its id and length.
func sections(wasm []byte) [][]byte {
	var out [][]byte
	for r := (reader{b: wasm, i: 8}); r.i < len(r.b) && r.err == nil; {
		start := r.i
		r.byte()
		n := r.u32()
		r.skip(n, "section")
		if r.err != nil {
			return append(out, wasm[start:])
		}
		out = append(out, wasm[start:r.i])
	}
	return out
}

// refusal is a module Read must refuse, and the error it must say.
type refusal struct {
	name string
	wasm []byte
	want string
}

func testRefusals(t *testing.T, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(tc.wasm)
			if err == nil {
				t.Fatalf("Read accepted % x: %+v", tc.wasm, m)
			}
			if err.Error() != tc.want {
				t.Fatalf("Read: %s\nwant:  %s", err, tc.want)
			}
		})
	}
}

// read is Read that must succeed.
func read(t *testing.T, wasm []byte) *Module {
	t.Helper()
	m, err := Read(wasm)
	if err != nil {
		t.Fatalf("Read(% x): %v", wasm, err)
	}
	return m
}

// rewriteTables is Rewrite with only the table budget.
func (m *Module) rewriteTables(wasm []byte, limit int) []byte {
	out, _, err := m.Rewrite(wasm, RewriteLimits{TableElements: limit})
	if err != nil {
		panic(err) // without a call-stack budget Rewrite decodes no code
	}
	return out
}
