package wasmbin

import "testing"

func TestReadData(t *testing.T) {
	testRefusals(t, []refusal{
		{"a passive segment longer than the bytes", module(section(11, u(1), []byte{1}, u(1000), []byte("abc"))),
			"section 11 at offset 8: data segment at offset 14: 1000 bytes declared with 3 left"},
		{"an active segment of 4 GiB", module(section(11, u(1), []byte{0}, i32(0), u(1<<32-1), []byte("abc"))),
			"section 11 at offset 8: data segment at offset 20: 4294967295 bytes declared with 3 left"},
		{"the second segment too long", module(section(11, u(2), []byte{1}, str("a"), []byte{1}, u(1000), []byte("bc"))),
			"section 11 at offset 8: data segment at offset 17: 1000 bytes declared with 2 left"},
		{"a prefix past 2", module(section(11, vec([]byte{3, 0}))),
			"section 11 at offset 8: data segment at offset 11 has prefix 3"},
		{"more segments than bytes", module(section(11, u(100), []byte{1, 0})),
			"section 11 at offset 8 declares 100 entries in 3 bytes"},
		{"an f32.const offset cut", module(section(11, vec([]byte{0, 0x43, 0, 0}))),
			"section 11 at offset 8: f32.const at offset 13: 4 bytes declared with 2 left"},
	})
	read(t, module(section(11, vec(
		cat([]byte{0}, i32(0), str("abc")),
		cat([]byte{1}, str("")),
		cat([]byte{2}, u(0), i32(8), str("de")),
	))))
}
