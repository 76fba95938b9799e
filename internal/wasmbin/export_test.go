package wasmbin

import "testing"

func TestReadExports(t *testing.T) {
	testRefusals(t, []refusal{
		{"a name longer than the bytes", module(section(7, u(1), u(100), []byte("run"))),
			"section 7 at offset 8: name runs past the end at offset 12"},
		{"an export of unknown kind", module(section(7, vec(cat(str("m"), []byte{5}, u(0))))),
			"section 7 at offset 8: export of unknown kind 5 at offset 13"},
	})
	read(t, module(section(7, vec(cat(str("memory"), []byte{2}, u(0)), cat(str("run"), []byte{0}, u(1))))))
}
