//go:build wasmtime

package wasmtimeengine_test

import (
	"context"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/reprise-wasm/reprise/engine"
)

// BenchmarkInstantiate is a fresh instance (store, WASI context, epoch
// callback) of a module with 2 pages of memory, closed again.
func BenchmarkInstantiate(b *testing.B) {
	e := newEngine(b, engine.Config{MemoryLimitPages: 4096})
	m := compile(b, e, wasmModule{Memory: 2, Funcs: []wasmFunc{{Export: "run"}}}.Bytes())
	ctx := context.Background()
	for b.Loop() {
		in, err := m.Instantiate(ctx, &fakeSys{})
		if err != nil {
			b.Fatal(err)
		}
		in.Close(ctx)
	}
}

// BenchmarkCall is a call of an empty Export: the cost of entering the guest.
func BenchmarkCall(b *testing.B) {
	e := newEngine(b, engine.Config{})
	in := instantiate(b, compile(b, e, wasmModule{Memory: 1, Funcs: []wasmFunc{{Export: "run"}}}.Bytes()), &fakeSys{})
	ctx := context.Background()
	for b.Loop() {
		if err := in.Call(ctx, "run"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHostCall is one call of a host import (i32, i32) -> i32 that reads
// guest memory, from a loop in the guest.
func BenchmarkHostCall(b *testing.B) {
	f := hostImport("f", 2, 1, func(ctx context.Context, mem engine.Memory, stack []uint64) {
		v, _ := mem.Read(uint32(stack[0]), uint32(stack[1]))
		stack[0] = uint64(len(v))
	})
	n := hostImport("n", 0, 1, func(ctx context.Context, mem engine.Memory, stack []uint64) { stack[0] = uint64(b.N) })
	e := newEngine(b, engine.Config{Imports: []engine.Import{f, n}})
	// local0 = n(); loop { f(0, 8); drop; local0 -= 1; br_if local0 != 0 }
	code := ops(call(1), []byte{0x21, 0}, []byte{0x03, 0x40}, i32(0), i32(8), call(0), drop,
		[]byte{0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b})
	m := compile(b, e, wasmModule{Imports: []wasmImport{wasmImportOf(f), wasmImportOf(n)}, Memory: 1,
		Funcs: []wasmFunc{{Locals: []byte{tI32}, Code: code, Export: "run"}}}.Bytes())
	in := instantiate(b, m, &fakeSys{})
	b.ResetTimer()
	if err := in.Call(context.Background(), "run"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLinkerSetup is what a linker per instance would cost on top of
// BenchmarkInstantiate: WASI plus the shadows plus 14 host imports. It is why
// one linker is shared and calls find their instance through the store.
func BenchmarkLinkerSetup(b *testing.B) {
	eng := wasmtime.NewEngine()
	defer eng.Close()
	ty := wasmtime.NewFuncType([]*wasmtime.ValType{wasmtime.NewValType(wasmtime.KindI32)}, nil)
	f := func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) { return nil, nil }
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"}
	for b.Loop() {
		l := wasmtime.NewLinker(eng)
		if err := l.DefineWasi(); err != nil {
			b.Fatal(err)
		}
		l.AllowShadowing(true)
		for _, n := range names {
			if err := l.FuncNew("env", n, ty, f); err != nil {
				b.Fatal(err)
			}
		}
		for _, n := range names[:7] {
			if err := l.FuncNew("wasi_snapshot_preview1", n, ty, f); err != nil {
				b.Fatal(err)
			}
		}
		l.Close()
	}
}
