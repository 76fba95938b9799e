package wasmbin

import (
	"reflect"
	"testing"
)

func TestReadImports(t *testing.T) {
	testRefusals(t, []refusal{
		{"a module name longer than the bytes", module(section(2, u(1), u(100), []byte("a"))),
			"section 2 at offset 8: name runs past the end at offset 12"},
		{"a field name longer than the bytes", module(section(2, u(1), str("env"), u(100), []byte("f"))),
			"section 2 at offset 8: name runs past the end at offset 16"},
		{"an import of unknown kind", module(section(2, vec(cat(str("e"), str("x"), []byte{5})))),
			"section 2 at offset 8: import e.x of unknown kind 5"},
		{"a function of a type not declared", module(section(1, vec(funcType)), section(2, vec(cat(str("e"), str("f"), []byte{0}, u(1))))),
			"section 2 at offset 14: type index 1 at offset 22: the module declares 1 types"},
	})
}

// funcType is the function type [] -> [].
var funcType = []byte{0x60, 0, 0}

func TestReadReportsNonFunctionImports(t *testing.T) {
	m := read(t, module(section(1, vec(funcType, funcType)), section(2, vec(
		cat(str("env"), str("f"), []byte{0}, u(0)),
		cat(str("env"), str("t"), []byte{1}, funcref(1)),
		cat(str("env"), str("mem"), []byte{2}, limits(1, 2)),
		cat(str("env"), str("g"), []byte{3, 0x7f, 0}),
		cat(str("env"), str("x"), []byte{4, 0}, u(0)),
		cat(str("wasi"), str("h"), []byte{0}, u(1)),
	))))
	want := []string{"env.t (table)", "env.mem (memory)", "env.g (global)", "env.x (tag)"}
	if !reflect.DeepEqual(m.OtherImports, want) {
		t.Fatalf("OtherImports %q, want %q", m.OtherImports, want)
	}
	if m.Memories != nil || m.Tables != nil {
		t.Fatalf("imported memories and tables reported as defined: %+v, %+v", m.Memories, m.Tables)
	}
	if m := read(t, module(section(1, vec(funcType)), section(2, vec(cat(str("env"), str("f"), []byte{0}, u(0)))))); m.OtherImports != nil {
		t.Fatalf("a function import reported: %q", m.OtherImports)
	}
}
