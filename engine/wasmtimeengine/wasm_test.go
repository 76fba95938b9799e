//go:build wasmtime

package wasmtimeengine_test

// A tiny module assembler for the tests: enough to import functions, declare
// a memory and export functions whose bodies are written in raw opcodes.

// Value types in the binary format.
const (
	tI32 = 0x7f
	tI64 = 0x7e
)

type wasmFunc struct {
	params, results []byte
	locals          []byte // one entry per local, each a value type
	code            []byte // the body without the final end
	export          string // "" for none
}

type wasmImport struct {
	module, name    string
	params, results []byte
}

type wasmModule struct {
	imports []wasmImport
	// memory is the minimum pages of the exported "memory"; -1 for none.
	memory int
	funcs  []wasmFunc
}

// bytes assembles the module. Function indexes count the imports first.
func (m wasmModule) bytes() []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	var types []byte
	ntypes := 0
	addType := func(params, results []byte) byte {
		types = append(types, 0x60)
		types = uleb(types, uint32(len(params)))
		types = append(types, params...)
		types = uleb(types, uint32(len(results)))
		types = append(types, results...)
		ntypes++
		return byte(ntypes - 1)
	}
	var imps []byte
	for _, i := range m.imports {
		t := addType(i.params, i.results)
		imps = str(imps, i.module)
		imps = str(imps, i.name)
		imps = append(imps, 0, t)
	}
	var funcs []byte
	for _, f := range m.funcs {
		funcs = append(funcs, addType(f.params, f.results))
	}
	b = section(b, 1, append(uleb(nil, uint32(ntypes)), types...))
	if len(m.imports) > 0 {
		b = section(b, 2, append(uleb(nil, uint32(len(m.imports))), imps...))
	}
	b = section(b, 3, append(uleb(nil, uint32(len(m.funcs))), funcs...))
	if m.memory >= 0 {
		b = section(b, 5, append([]byte{1, 0}, uleb(nil, uint32(m.memory))...))
	}
	var exps []byte
	nexps := 0
	if m.memory >= 0 {
		exps = append(str(exps, "memory"), 2, 0)
		nexps++
	}
	for i, f := range m.funcs {
		if f.export != "" {
			exps = append(str(exps, f.export), 0)
			exps = uleb(exps, uint32(len(m.imports)+i))
			nexps++
		}
	}
	b = section(b, 7, append(uleb(nil, uint32(nexps)), exps...))
	code := uleb(nil, uint32(len(m.funcs)))
	for _, f := range m.funcs {
		body := uleb(nil, uint32(len(f.locals)))
		for _, l := range f.locals {
			body = append(body, 1, l)
		}
		body = append(append(body, f.code...), 0x0b)
		code = append(uleb(code, uint32(len(body))), body...)
	}
	return section(b, 10, code)
}

func str(b []byte, s string) []byte { return append(uleb(b, uint32(len(s))), s...) }

func section(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = uleb(b, uint32(len(payload)))
	return append(b, payload...)
}

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// i32 is i32.const v.
func i32(v int32) []byte {
	b := []byte{0x41}
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// i64 is i64.const v, for small non-negative v.
func i64(v uint32) []byte { return append([]byte{0x42}, i32(int32(v))[1:]...) }

func call(idx uint32) []byte { return uleb([]byte{0x10}, idx) }

// ops concatenates instruction sequences.
func ops(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Instructions without immediates, and memory ones with align 2, offset 0.
var (
	drop       = []byte{0x1a}
	i32Store   = []byte{0x36, 2, 0}
	i64Store   = []byte{0x37, 3, 0}
	memoryGrow = []byte{0x40, 0}
	foreverOp  = []byte{0x03, 0x40, 0x0c, 0, 0x0b} // loop; br 0; end
)
