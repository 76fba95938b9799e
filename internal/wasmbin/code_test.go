package wasmbin

import (
	"fmt"
	"testing"
)

// code is a code section of one function body with the given local
// declarations (count, then type) and no instructions.
func code(decls ...[]byte) []byte {
	body := cat(vec(decls...), []byte{opEnd})
	return section(10, u(1), u(uint32(len(body))), body)
}

func TestReadCode(t *testing.T) {
	testRefusals(t, []refusal{
		{"a body longer than the bytes", module(section(10, u(1), u(100), []byte{0})),
			"section 10 at offset 8: function body runs past the end at offset 12"},
		{"more local declarations than bytes", module(section(10, u(1), u(3), u(100), []byte{1, 0x7f})),
			"section 10 at offset 8: locals of the function body at offset 12: local declarations at offset 12: 100 of them declared with 2 bytes left"},
		{"more bodies than bytes", module(section(10, u(100), u(1), []byte{opEnd})),
			"section 10 at offset 8 declares 100 entries in 3 bytes"},
	})
}

func TestReadRefusesLocalsAboveTheMax(t *testing.T) {
	i32 := func(n uint32) []byte { return cat(u(n), []byte{0x7f}) }
	ref := func(n uint32) []byte { return cat(u(n), []byte{0x63, 0x70}) } // (ref null func)
	for _, ok := range [][]byte{
		code(),
		code(i32(maxLocals)),
		code(i32(maxLocals/2), ref(maxLocals/2)),
	} {
		read(t, module(ok))
	}
	refused := func(n uint64) string {
		return fmt.Sprintf("section 10 at offset 8: a function declares %d locals; at most %d are allowed", n, maxLocals)
	}
	testRefusals(t, []refusal{
		{"one declaration", module(code(i32(maxLocals + 1))), refused(maxLocals + 1)},
		{"two declarations", module(code(i32(maxLocals/2), i32(maxLocals/2+1))), refused(maxLocals + 1)},
		// Read as one byte, the reference type would hide the next count.
		{"behind a reference type", module(code(ref(1), i32(1<<24))), refused(1<<24 + 1)},
		{"2^32-1 twice", module(code(i32(1<<32-1), i32(1<<32-1))), refused(2 * (1<<32 - 1))},
		{"in the second body", module(section(10, u(2), u(2), []byte{0, opEnd}, u(5), cat(vec(i32(maxLocals+1)), []byte{opEnd}))),
			refused(maxLocals + 1)},
	})
}
