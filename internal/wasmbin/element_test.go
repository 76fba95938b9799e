package wasmbin

import "testing"

func TestReadElements(t *testing.T) {
	testRefusals(t, []refusal{
		{"more function indexes than bytes", module(section(9, u(1), []byte{0}, i32(0), u(1000), u(0))),
			"section 9 at offset 8: element function indexes at offset 15: 1000 of them declared with 1 bytes left"},
		{"more expressions than bytes", module(section(9, u(1), []byte{5, 0x70}, u(1000), []byte{0xd2, 0, opEnd})),
			"section 9 at offset 8: element expressions at offset 13: 1000 of them declared with 3 bytes left"},
		{"a declarative segment of more indexes than bytes", module(section(9, u(1), []byte{3, 0}, u(1000), u(0))),
			"section 9 at offset 8: element function indexes at offset 13: 1000 of them declared with 1 bytes left"},
		{"a prefix past 7", module(section(9, vec([]byte{8}))),
			"section 9 at offset 8: element segment at offset 11 has prefix 8"},
		{"an offset not constant", module(section(9, vec(cat([]byte{0, 0x20, 0, opEnd}, vec())))),
			"section 9 at offset 8: opcode 0x20 in a constant expression at offset 12"},
		{"a v128 instruction other than v128.const", module(section(9, vec(cat([]byte{0, 0xfd, 0x0d}, vec())))),
			"section 9 at offset 8: vector instruction in a constant expression at offset 13"},
		{"an f64.const cut", module(section(9, vec([]byte{0, 0x44, 0, 0}))),
			"section 9 at offset 8: f64.const at offset 13: 8 bytes declared with 2 left"},
	})
	read(t, module(section(9, vec(
		cat([]byte{0}, i32(0), vec(u(0), u(1))),                                      // active, table 0
		cat([]byte{1, 0}, vec(u(0))),                                                 // passive, indexes
		cat([]byte{2}, u(1), i32(0), []byte{0}, vec(u(0))),                           // active, table 1
		cat([]byte{4, 0x23, 0, opEnd}, vec([]byte{0xd2, 0, opEnd})),                  // active, expressions
		cat([]byte{5, 0x70}, vec([]byte{0xd0, 0x70, opEnd}, []byte{0xd2, 1, opEnd})), // passive, expressions
		cat([]byte{6}, u(1), []byte{0x42, 0x7f, 0x41, 1, 0x6a, opEnd}, []byte{0x63, 0x70}, vec()),
		cat([]byte{7, 0x64, 0}, vec([]byte{0xd0, 0, opEnd})), // declarative, typed
	))))
}
