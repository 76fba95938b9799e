package wasmtest

// Value types in the binary format.
const (
	I32 = 0x7f
	I64 = 0x7e
)

// Import is an imported function.
type Import struct {
	Module, Name    string
	Params, Results []byte
}

// Func is a defined function; its body is raw instructions without the
// final end.
type Func struct {
	Params, Results []byte
	Locals          []byte // one value type per local
	Code            []byte
	Export          string // "" for none
}

// Data is an active data segment in memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Table is a funcref table. Tables are not exported.
type Table struct {
	Min uint32
	Max *uint32 // nil for none
}

// Module is a module with imported and defined functions and one memory
// exported as "memory". Function indexes count the imports first.
type Module struct {
	Imports []Import
	Funcs   []Func
	// Memory is the minimum pages of the exported "memory"; negative for none.
	Memory int
	// MemoryMax is the maximum pages of the memory; nil for none.
	MemoryMax *uint32
	Tables    []Table
	Data      []Data
}

// Ptr returns a pointer to v, for the optional maxima.
func Ptr(v uint32) *uint32 { return &v }

func limits(b []byte, min uint32, max *uint32) []byte {
	if max == nil {
		return uleb(append(b, 0), min)
	}
	return uleb(uleb(append(b, 1), min), *max)
}

// Import adds an imported function and returns its index. Add every import
// before the first Func.
func (m *Module) Import(module, name string, params, results []byte) uint32 {
	m.Imports = append(m.Imports, Import{module, name, params, results})
	return uint32(len(m.Imports) - 1)
}

// Func adds an exported function of type () -> ().
func (m *Module) Func(export string, locals []byte, code ...[]byte) {
	m.Funcs = append(m.Funcs, Func{Export: export, Locals: locals, Code: Cat(code...)})
}

// Bytes assembles the module.
func (m Module) Bytes() []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	var types []byte
	ntypes := 0
	addType := func(params, results []byte) uint32 {
		types = append(types, 0x60)
		types = append(uleb(types, uint32(len(params))), params...)
		types = append(uleb(types, uint32(len(results))), results...)
		ntypes++
		return uint32(ntypes - 1)
	}
	var imps []byte
	for _, i := range m.Imports {
		t := addType(i.Params, i.Results)
		imps = str(str(imps, i.Module), i.Name)
		imps = uleb(append(imps, 0), t)
	}
	var funcs []byte
	for _, f := range m.Funcs {
		funcs = uleb(funcs, addType(f.Params, f.Results))
	}
	b = Section(b, 1, append(uleb(nil, uint32(ntypes)), types...))
	if len(m.Imports) > 0 {
		b = Section(b, 2, append(uleb(nil, uint32(len(m.Imports))), imps...))
	}
	b = Section(b, 3, append(uleb(nil, uint32(len(m.Funcs))), funcs...))
	if len(m.Tables) > 0 {
		ts := uleb(nil, uint32(len(m.Tables)))
		for _, t := range m.Tables {
			ts = limits(append(ts, 0x70), t.Min, t.Max)
		}
		b = Section(b, 4, ts)
	}
	if m.Memory >= 0 {
		b = Section(b, 5, limits([]byte{1}, uint32(max(m.Memory, 1)), m.MemoryMax))
	}
	var exps []byte
	nexps := 0
	if m.Memory >= 0 {
		exps = append(str(exps, "memory"), 2, 0)
		nexps++
	}
	for i, f := range m.Funcs {
		if f.Export != "" {
			exps = uleb(append(str(exps, f.Export), 0), uint32(len(m.Imports)+i))
			nexps++
		}
	}
	b = Section(b, 7, append(uleb(nil, uint32(nexps)), exps...))
	code := uleb(nil, uint32(len(m.Funcs)))
	for _, f := range m.Funcs {
		body := uleb(nil, uint32(len(f.Locals)))
		for _, l := range f.Locals {
			body = append(body, 1, l)
		}
		body = append(append(body, f.Code...), 0x0b)
		code = append(uleb(code, uint32(len(body))), body...)
	}
	b = Section(b, 10, code)
	if len(m.Data) > 0 {
		ds := uleb(nil, uint32(len(m.Data)))
		for _, d := range m.Data {
			ds = append(append(append(ds, 0), I32Const(int32(d.Offset))...), 0x0b)
			ds = append(uleb(ds, uint32(len(d.Bytes))), d.Bytes...)
		}
		b = Section(b, 11, ds)
	}
	return b
}

// Section appends a section with its id and length.
func Section(b []byte, id byte, payload []byte) []byte {
	return append(uleb(append(b, id), uint32(len(payload))), payload...)
}

func str(b []byte, s string) []byte { return append(uleb(b, uint32(len(s))), s...) }

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

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// I32Const is i32.const v.
func I32Const(v int32) []byte { return sleb([]byte{0x41}, int64(v)) }

// I64Const is i64.const v.
func I64Const(v int64) []byte { return sleb([]byte{0x42}, v) }

// Call is call idx.
func Call(idx uint32) []byte { return uleb([]byte{0x10}, idx) }

// Cat concatenates instruction sequences.
func Cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Countdown repeats body n times (n >= 1), counting in i32 local l.
func Countdown(l byte, n uint32, body []byte) []byte {
	return Cat(I32Const(int32(n)), []byte{0x21, l}, // local.set l
		[]byte{0x03, 0x40}, // loop
		body,
		[]byte{0x20, l, 0x41, 1, 0x6b, 0x22, l, 0x0d, 0}, // local.get l; i32.const 1; i32.sub; local.tee l; br_if 0
		[]byte{0x0b}) // end
}

// Instructions without immediates, and memory ones with natural alignment
// and offset 0.
var (
	Drop       = []byte{0x1a}
	I32Store   = []byte{0x36, 2, 0}
	I64Store   = []byte{0x37, 3, 0}
	MemoryGrow = []byte{0x40, 0}
	MemorySize = []byte{0x3f, 0}
	Forever    = []byte{0x03, 0x40, 0x0c, 0, 0x0b} // loop; br 0; end
)

// TableGrow is table.grow of table idx by the i32 on the stack, each new
// element null: ref.null func must be pushed before the delta, so use
// Cat(RefNullFunc, I32Const(n), TableGrow(idx)). It leaves the old size, or
// -1 when the table cannot grow.
func TableGrow(idx uint32) []byte { return uleb([]byte{0xfc, 15}, idx) }

// RefNullFunc is ref.null func.
var RefNullFunc = []byte{0xd0, 0x70}

// ULEB is v as an unsigned LEB128, for hand-written counts and lengths.
func ULEB(v uint32) []byte { return uleb(nil, v) }

// Str is s as a name: its length, then its bytes.
func Str(s string) []byte { return str(nil, s) }

// Insert returns the module wasm (as Bytes makes it) with a section of the
// given id and payload placed where the binary format orders it: before
// the first section with a higher id. Custom sections (id 0) go at the end.
func Insert(wasm []byte, id byte, payload []byte) []byte {
	at := len(wasm)
	for i := 8; id != 0 && i < len(wasm); {
		if wasm[i] > id && wasm[i] != 0 && wasm[i] != 12 || id == 12 && wasm[i] == 10 {
			at = i
			break
		}
		j := i + 1
		var size, shift uint32
		for ; j < len(wasm); j++ {
			size |= uint32(wasm[j]&0x7f) << shift
			shift += 7
			if wasm[j]&0x80 == 0 {
				break
			}
		}
		i = j + 1 + int(size)
	}
	out := Section(append([]byte(nil), wasm[:at]...), id, payload)
	return append(out, wasm[at:]...)
}

// Names is the payload of a "name" custom section naming functions 0, 1,
// ... in order; append it with Section(wasm, 0, Names(...)).
func Names(funcs ...string) []byte {
	sub := uleb(nil, uint32(len(funcs)))
	for i, f := range funcs {
		sub = str(uleb(sub, uint32(i)), f)
	}
	return append(append(str(nil, "name"), 1), append(uleb(nil, uint32(len(sub))), sub...)...)
}
