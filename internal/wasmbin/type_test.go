package wasmbin

import "testing"

func TestReadTypes(t *testing.T) {
	testRefusals(t, []refusal{
		{"more parameters than bytes", module(section(1, u(1), []byte{0x60}, u(1000), []byte{0x7f}, u(0))),
			"section 1 at offset 8: value types at offset 12: 1000 of them declared with 2 bytes left"},
		{"more results than bytes", module(section(1, u(1), []byte{0x60}, u(0), u(200), []byte{0x7f})),
			"section 1 at offset 8: value types at offset 13: 200 of them declared with 1 bytes left"},
		{"a recursion group of more types than bytes", module(section(1, u(1), []byte{0x4e}, u(1000), []byte{0x60, 0, 0})),
			"section 1 at offset 8: recursion group types at offset 12: 1000 of them declared with 3 bytes left"},
		{"not a function type", module(section(1, vec([]byte{0x5f, 0, 0}))),
			"section 1 at offset 8: type at offset 11 is not a function type (0x5f)"},
		{"a reference type's heap type cut", module(section(1, vec([]byte{0x60, 1, 0x63, 0x80}))),
			"section 1 at offset 8: unexpected end at offset 15"},
	})
	// (i32, (ref null 0)) -> (), then a recursion group of one () -> ().
	read(t, module(section(1, vec([]byte{0x60, 2, 0x7f, 0x63, 0, 0}, []byte{0x4e, 1, 0x60, 0, 0}))))
}
