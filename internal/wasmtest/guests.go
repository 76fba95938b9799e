package wasmtest

import "github.com/reprise-wasm/reprise/abi"

// Invoker is a guest (entry abi.DefaultEntry) that invokes function child n
// times (n >= 1) with the argument {}, then awaits the children in order.
// The first that did not resolve ends it: it rejects with that child's
// value. When all resolve, it resolves with the JSON string "ok". With child its own name
// it is a recursive fan-out bomb: each execution invokes n more of itself,
// and what stops them comes back up the tree as a rejection value.
func Invoker(child string, n uint32) []byte {
	const (
		nameAt  = 1024
		argsAt  = 1536
		okAt    = 2048
		valueAt = 4096
		valueN  = 8192
		args    = "{}"
	)
	var m Module
	invoke := m.Import(abi.Module, abi.ImportInvoke, []byte{I32, I32, I32, I32}, []byte{I32})
	await := m.Import(abi.Module, abi.ImportAwait, []byte{I32}, []byte{I32})
	value := m.Import(abi.Module, abi.ImportValue, []byte{I32, I32, I32}, []byte{I32})
	reject := m.Import(abi.Module, abi.ImportReject, []byte{I32, I32}, []byte{I32})
	resolve := m.Import(abi.Module, abi.ImportResolve, []byte{I32, I32}, []byte{I32})
	// Locals: 0 the countdown, 1 the handle awaited, 2 a value's length.
	// Handles are the journal's steps, 1 to n: await journals nothing.
	code := Cat(
		Countdown(0, n, Cat(I32Const(nameAt), I32Const(int32(len(child))), I32Const(argsAt), I32Const(int32(len(args))), Call(invoke), Drop)),
		I32Const(1), []byte{0x21, 1}, // local.set 1
		[]byte{0x03, 0x40},                                                      // loop
		[]byte{0x20, 1}, Call(await), I32Const(abi.StateResolved), []byte{0x47}, // local.get 1; await; i32.ne
		[]byte{0x04, 0x40}, // if
		[]byte{0x20, 1}, I32Const(valueAt), I32Const(valueN), Call(value), []byte{0x21, 2},
		I32Const(valueAt), []byte{0x20, 2}, Call(reject), Drop,
		[]byte{0x0f, 0x0b},                                  // return; end
		[]byte{0x20, 1}, I32Const(1), []byte{0x6a, 0x22, 1}, // local.get 1; i32.const 1; i32.add; local.tee 1
		I32Const(int32(n+1)), []byte{0x47, 0x0d, 0}, // i32.ne; br_if 0
		[]byte{0x0b}, // end
		I32Const(okAt), I32Const(4), Call(resolve), Drop,
	)
	m.Func(abi.DefaultEntry, []byte{I32, I32, I32}, code)
	m.Memory = 1
	m.Data = []Data{{Offset: nameAt, Bytes: []byte(child)}, {Offset: argsAt, Bytes: []byte(args)}, {Offset: okAt, Bytes: []byte(`"ok"`)}}
	return m.Bytes()
}
