package wasmbin

import (
	"reflect"
	"testing"
)

func TestReadTables(t *testing.T) {
	testRefusals(t, []refusal{
		{"0x40 not followed by 0x00", module(section(4, vec([]byte{0x40, 1, 0x70, 0, 1}))),
			"section 4 at offset 8: table at offset 11: 0x40 not followed by 0x00"},
		{"an initializer not constant", module(section(4, vec(cat([]byte{0x40, 0}, funcref(1), []byte{0x20, 0, opEnd})))),
			"section 4 at offset 8: opcode 0x20 in a constant expression at offset 16"},
		{"more tables than bytes", module(section(4, u(1000), funcref(1))),
			"section 4 at offset 8 declares 1000 entries in 5 bytes"},
	})
	// A table of (ref null func) with an initializer ref.null func.
	m := read(t, module(section(4, vec(cat([]byte{0x40, 0, 0x63, 0x70}, limits(2, 4), []byte{0xd0, 0x70, opEnd})))))
	if want := []Limits{{Min: 2, Max: 4, HasMax: true}}; !reflect.DeepEqual(m.Tables, want) {
		t.Fatalf("Tables %+v, want %+v", m.Tables, want)
	}
}
