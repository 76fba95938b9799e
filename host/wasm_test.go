package host_test

import wt "github.com/reprise-wasm/reprise/internal/wasmtest"

// The smallest real guests, hand-assembled: for checks on what the host
// accepts and for measuring the host without a guest language runtime.

// Function types, by a one-letter code in rawModule's import list.
const (
	typeI32I32toI32 = '0' // (i32, i32) -> i32
	typeVoid        = '1' // () -> ()
	typeToI64       = '2' // () -> i64
)

var typesByCode = map[byte][2][]byte{
	typeI32I32toI32: {{wt.I32, wt.I32}, {wt.I32}},
	typeVoid:        {nil, nil},
	typeToI64:       {nil, {wt.I64}},
}

// rawModule assembles a module importing the given (module, name, type code)
// functions, exporting a 2-page memory and one function named export of type
// () -> (), with one i32 local, whose body is code.
func rawModule(imports [][3]string, export string, code []byte) []byte {
	m := wt.Module{Memory: 2}
	for _, i := range imports {
		t := typesByCode[i[2][0]]
		m.Import(i[0], i[1], t[0], t[1])
	}
	m.Func(export, []byte{wt.I32}, code)
	return m.Bytes()
}

// rawEcho resolves with its input: resolve(1024, input(1024, 65536)).
func rawEcho() []byte {
	code := wt.Cat(wt.I32Const(1024), wt.I32Const(1024), wt.I32Const(65536), wt.Call(0), wt.Call(1), wt.Drop)
	return rawModule([][3]string{{"reprise_v1", "input", "0"}, {"reprise_v1", "resolve", "0"}}, "run", code)
}

// rawLoop calls import name (module reprise_v1, of type code typ) n times.
func rawLoop(name string, typ byte, n uint32) []byte {
	var call []byte
	switch typ {
	case typeI32I32toI32:
		call = wt.Cat(wt.I32Const(0), wt.I32Const(0), wt.Call(0), wt.Drop)
	case typeToI64:
		call = wt.Cat(wt.Call(0), wt.Drop)
	}
	return rawModule([][3]string{{"reprise_v1", name, string(typ)}}, "run", wt.Countdown(0, n, call))
}
