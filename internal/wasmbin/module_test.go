package wasmbin

import (
	"reflect"
	"testing"
)

func TestReadSections(t *testing.T) {
	testRefusals(t, []refusal{
		{"a section longer than the bytes", module([]byte{1, 10, 0}),
			"section at offset 8 runs past the end"},
		{"a section length of 6 bytes", module([]byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0}),
			"section at offset 8 runs past the end"},
		{"a section cut after its id", module(section(1, vec([]byte{0x60, 0, 0})), []byte{1}),
			"section at offset 14 runs past the end"},
		{"a vector of more entries than its bytes", module(section(5, u(1000))),
			"section 5 at offset 8 declares 1000 entries in 2 bytes"},
		{"2^31 imports in a 22-byte module", module(section(2, u(1<<31)), []byte{0, 0, 10, 4, 1, 2, 0, opEnd}),
			"section 2 at offset 8 declares 2147483648 entries in 5 bytes"},
		{"a count too large for 32 bits", module(section(5, []byte{0xff, 0xff, 0xff, 0xff, 0x7f})),
			"section 5 at offset 8: integer too large at offset 14"},
		{"bytes left over", module(section(1, vec([]byte{0x60, 0, 0}), []byte{0})),
			"section 1 at offset 8: 1 bytes left over at its end"},
	})
}

func TestReadAcceptsWhatItDoesNotRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"the preamble alone", module()},
		{"a function section", module(section(1, vec(funcType)), section(3, vec(u(0), u(0))))},
		{"a start section", module(section(8, u(0)))},
		{"a data count section", module(section(12, u(3)))},
		{"an unknown section", module(section(99, []byte("anything")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := read(t, tc.wasm)
			m.sections, m.types = [14][2]int{}, 0 // where they are, not what they declare
			if !reflect.DeepEqual(m, &Module{}) {
				t.Fatalf("Read: %+v, want nothing declared", m)
			}
		})
	}
}

// A function's type index must name a declared type: wazero indexed its
// types with it before checking, and panicked (a deploy took the process
// down).
func TestReadRefusesAFunctionOfAnUndeclaredType(t *testing.T) {
	testRefusals(t, []refusal{
		{"no type section", module(section(3, vec(u(0)))),
			"section 3 at offset 8: type index 0 at offset 11: the module declares 0 types"},
		{"past the types", module(section(1, vec(funcType)), section(3, vec(u(0), u(110)))),
			"section 3 at offset 14: type index 110 at offset 18: the module declares 1 types"},
	})
}
