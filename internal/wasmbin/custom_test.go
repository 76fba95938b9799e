package wasmbin

import (
	"bytes"
	"testing"
)

func TestCustomSections(t *testing.T) {
	types := section(1, vec([]byte{0x60, 0, 0}))
	exports := section(7, vec(cat(str("run"), []byte{0}, u(0))))
	funcNames := names(sub(1, vec(cat(u(0), str("run")))))
	for _, tc := range []struct {
		name     string
		sections [][]byte
		keep     []bool // whether StripCustom keeps each section
	}{
		{"a well-formed name section is kept",
			[][]byte{types, funcNames}, []bool{true, true}},
		{"module, function and local names are kept",
			[][]byte{types, names(sub(0, str("m")), sub(1, vec(cat(u(0), str("run")))), sub(2, vec(cat(u(0), vec(cat(u(0), str("x")))))))},
			[]bool{true, true}},
		{"an empty name section is kept", [][]byte{types, names()}, []bool{true, true}},
		{"a name subsection of an unknown id is kept", [][]byte{types, names(sub(9, []byte{0xff, 0xff}))}, []bool{true, true}},
		{"more function names than bytes: dropped",
			[][]byte{types, names(sub(1, u(1000), u(0), str("run")))}, []bool{true, false}},
		{"more local names than bytes: dropped",
			[][]byte{types, names(sub(2, vec(cat(u(0), u(1000), u(0), str("x")))))}, []bool{true, false}},
		{"a module name longer than its subsection: dropped",
			[][]byte{types, names(sub(0, u(100), []byte("m")))}, []bool{true, false}},
		{"a name that is not UTF-8: dropped",
			[][]byte{types, names(sub(1, vec(cat(u(0), []byte{2, 0xc3, 0x28}))))}, []bool{true, false}},
		{"a subsection with bytes left over: dropped",
			[][]byte{types, names(sub(0, str("m"), []byte{0}))}, []bool{true, false}},
		{"a subsection longer than the section: dropped",
			[][]byte{types, custom("name", []byte{1, 100, 0})}, []bool{true, false}},
		{"a second name section is dropped",
			[][]byte{funcNames, types, funcNames}, []bool{true, true, false}},
		{"a malformed name section, then a well-formed one",
			[][]byte{names(sub(1, u(1000))), types, funcNames}, []bool{false, true, true}},
		{"DWARF and producers are dropped",
			[][]byte{types, custom(".debug_info", bytes.Repeat([]byte{0xff}, 64)), exports, custom("producers", vec())},
			[]bool{true, false, true, false}},
		{"a custom section whose name is longer than it: dropped",
			[][]byte{section(0, u(100), []byte("x")), types}, []bool{false, true}},
		{"a custom section with no name: dropped",
			[][]byte{types, section(0), exports}, []bool{true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := module(tc.sections...)
			var kept [][]byte
			for i, s := range tc.sections {
				if tc.keep[i] {
					kept = append(kept, s)
				}
			}
			want := module(kept...)
			if got := StripCustom(wasm); !bytes.Equal(got, want) {
				t.Errorf("StripCustom:\n got % x\nwant % x", got, want)
			}
			if got := read(t, wasm).rewriteTables(wasm, 0); !bytes.Equal(got, want) {
				t.Errorf("Rewrite:\n got % x\nwant % x", got, want)
			}
		})
	}
}

func TestStripCustomLeavesARefusedModule(t *testing.T) {
	wasm := module(custom(".debug_info"), section(5, u(1000)))
	if got := StripCustom(wasm); !same(got, wasm) {
		t.Fatalf("StripCustom changed a module Read refuses: % x", got)
	}
}
