//go:build wasmtime

package wasmtimeengine_test

import wt "github.com/reprise-wasm/reprise/internal/wasmtest"

// Short names for the shared module assembler.
const (
	tI32 = wt.I32
	tI64 = wt.I64
)

type (
	wasmFunc   = wt.Func
	wasmImport = wt.Import
	wasmModule = wt.Module
)

func i32(v int32) []byte         { return wt.I32Const(v) }
func i64(v uint32) []byte        { return wt.I64Const(int64(v)) }
func call(idx uint32) []byte     { return wt.Call(idx) }
func ops(parts ...[]byte) []byte { return wt.Cat(parts...) }

var (
	drop       = wt.Drop
	i32Store   = wt.I32Store
	i64Store   = wt.I64Store
	memoryGrow = wt.MemoryGrow
	foreverOp  = wt.Forever
)
