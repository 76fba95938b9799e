package conformance_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// The engines' error values (engine.Instance.Call's duties): the same guest
// failing the same way must end with the same value on every engine, so
// that the host reports it the same way. Each case states the value it
// expects, so a build with wazero alone checks wazero against it.

// errValue is what the host reads of an engine's error.
type errValue struct {
	Kind    string // trap, memory, exit, interrupted, host panic
	Message string // a trap's; a host panic's error text
	Code    uint32
	Frames  []string // module.func, innermost first
	Size    uint64   // for memory: the guest's memory, bytes
	Limit   uint64
}

func errorValue(err error) errValue {
	var (
		exit *engine.ExitError
		trap *engine.TrapError
		mem  *engine.MemoryError
		hp   *engine.HostPanicError
		o    errValue
	)
	switch {
	case err == nil:
		return errValue{Kind: "none"}
	case errors.As(err, &exit):
		return errValue{Kind: "exit", Code: exit.Code}
	case errors.Is(err, engine.ErrInterrupted):
		return errValue{Kind: "interrupted"}
	case errors.As(err, &hp):
		o = errValue{Kind: "host panic", Message: hp.Err.Error(), Frames: frameNames(hp.Stack)}
	case errors.As(err, &trap):
		o = errValue{Kind: "trap", Message: trap.Message, Frames: frameNames(trap.Stack)}
		if errors.As(err, &mem) {
			o.Kind, o.Size, o.Limit = "memory", mem.Size, mem.Limit
		}
	default:
		return errValue{Kind: "other: " + err.Error()}
	}
	return o
}

func frameNames(s engine.Stack) []string {
	var names []string
	for _, f := range s {
		names = append(names, f.Module+"."+f.Func)
	}
	return names
}

var errBoom = errors.New("boom")

// Indexes of the guest's functions: three imports, then run (exported),
// inner (what each case varies) and init (exported as _initialize where a
// case wants one).
const (
	fnExit, fnBoom, fnBoomString = 0, 1, 2
	fnRun, fnInner               = 3, 4
)

// errorGuest is a module whose run calls inner, whose body is code.
func errorGuest(code []byte, initialize bool) wt.Module {
	m := wt.Module{Memory: 1}
	m.Import("wasi_snapshot_preview1", "proc_exit", []byte{wt.I32}, nil)
	m.Import("env", "boom", nil, nil)
	m.Import("env", "boom_string", nil, nil)
	m.Func("run", nil, wt.Call(fnInner))
	m.Func("", nil, code)
	if initialize {
		m.Func("_initialize", nil, wt.Call(fnInner))
	}
	return m
}

// nameSection is the payload of a name section naming the module (when module is not "") and
// the functions in order.
func nameSection(module string, funcs ...string) []byte {
	fn := wt.Names(funcs...)[len(wt.Str("name")):]
	if module == "" {
		return wt.Cat(wt.Str("name"), fn)
	}
	sub := wt.Str(module)
	return wt.Cat(wt.Str("name"), []byte{0}, wt.ULEB(uint32(len(sub))), sub, fn)
}

var guestNames = nameSection("", "proc_exit", "boom", "boom_string", "run", "inner", "init")

func TestEnginesGiveTheSameErrors(t *testing.T) {
	const limitPages = 4 // 256 KiB: a guest past 128 KiB gets the memory note
	named := func(code []byte) []byte { return wt.Section(errorGuest(code, false).Bytes(), 0, guestNames) }
	trapIn := []string{".inner", ".run"}
	cases := []struct {
		name string
		wasm []byte
		// instantiate: the error is Instantiate's, from the start function
		// or _initialize; otherwise Call's of run.
		instantiate bool
		interrupt   bool // run is stopped by canceling its context
		want        errValue
		// anyStack: the engines may differ in the frames (a stack overflow:
		// wazero gives none, wasmtime its innermost MaxFrames).
		anyStack bool
	}{
		{name: "unreachable", wasm: named([]byte{0x00}),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: trapIn}},
		{name: "integer divide by zero", wasm: named(wt.Cat(wt.I32Const(1), wt.I32Const(0), []byte{0x6d}, wt.Drop)),
			want: errValue{Kind: "trap", Message: engine.TrapIntegerDivideByZero, Frames: trapIn}},
		{name: "out of bounds memory access", wasm: named(wt.Cat(wt.I32Const(0x7ffffff0), []byte{0x28, 2, 0}, wt.Drop)),
			want: errValue{Kind: "trap", Message: engine.TrapMemoryOutOfBounds, Frames: trapIn}},
		{name: "stack overflow", wasm: named(wt.Call(fnInner)), anyStack: true,
			want: errValue{Kind: "trap", Message: engine.TrapStackOverflow}},
		{name: "function without a name", wasm: wt.Section(errorGuest([]byte{0x00}, false).Bytes(), 0, nameSection("", "proc_exit", "boom", "boom_string", "run")),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: []string{".$4", ".run"}}},
		{name: "module with a name", wasm: wt.Section(errorGuest([]byte{0x00}, false).Bytes(), 0, nameSection("guest.v1", "proc_exit", "boom", "boom_string", "run", "inner")),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: []string{"guest.v1.inner", "guest.v1.run"}}},
		{name: "no name section", wasm: errorGuest([]byte{0x00}, false).Bytes(),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: []string{".$4", ".$3"}}},
		{name: "proc_exit(3)", wasm: named(wt.Cat(wt.I32Const(3), wt.Call(fnExit))),
			want: errValue{Kind: "exit", Code: 3}},
		{name: "proc_exit(0)", wasm: named(wt.Cat(wt.I32Const(0), wt.Call(fnExit))),
			want: errValue{Kind: "exit", Code: 0}},
		{name: "interrupted in a loop", wasm: named(wt.Forever), interrupt: true,
			want: errValue{Kind: "interrupted"}},
		{name: "trap past half the memory limit", wasm: named(wt.Cat(wt.I32Const(2), wt.MemoryGrow, wt.Drop, []byte{0x00})),
			want: errValue{Kind: "memory", Message: engine.TrapUnreachable, Frames: trapIn, Size: 3 << 16, Limit: limitPages << 16}},
		{name: "host function panics with an error", wasm: named(wt.Call(fnBoom)),
			want: errValue{Kind: "host panic", Message: "boom", Frames: []string{"env.boom", ".inner", ".run"}}},
		{name: "host function panics with a string", wasm: named(wt.Call(fnBoomString)),
			want: errValue{Kind: "host panic", Message: "just a string", Frames: []string{"env.boom_string", ".inner", ".run"}}},
		{name: "_initialize traps", instantiate: true, wasm: wt.Section(errorGuest([]byte{0x00}, true).Bytes(), 0, guestNames),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: []string{".inner", ".init"}}},
		{name: "_initialize calls proc_exit(0)", instantiate: true, wasm: wt.Section(errorGuest(wt.Cat(wt.I32Const(0), wt.Call(fnExit)), true).Bytes(), 0, guestNames),
			want: errValue{Kind: "exit", Code: 0}},
		{name: "start function traps", instantiate: true, wasm: wt.Section(wt.Insert(errorGuest([]byte{0x00}, false).Bytes(), 8, wt.ULEB(fnInner)), 0, guestNames),
			want: errValue{Kind: "trap", Message: engine.TrapUnreachable, Frames: []string{".inner"}}},
	}
	imports := []engine.Import{
		{Module: "env", Name: "boom", Func: func(context.Context, engine.Memory, []uint64) { panic(errBoom) }},
		{Module: "env", Name: "boom_string", Func: func(context.Context, engine.Memory, []uint64) { panic("just a string") }},
	}
	got := map[string][]errValue{} // by case, one per engine
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			e, err := eng.new(ctx, engine.Config{Imports: imports, MemoryLimitPages: limitPages})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			for _, c := range cases {
				m, err := e.Compile(ctx, c.wasm)
				if err != nil {
					t.Fatalf("%s: compile: %v", c.name, err)
				}
				in, err := m.Instantiate(ctx, &benchSys{})
				if !c.instantiate && err == nil {
					callCtx, cancel := context.WithCancelCause(ctx)
					if c.interrupt {
						time.AfterFunc(50*time.Millisecond, func() { cancel(errStop) })
					}
					err = in.Call(callCtx, "run")
					cancel(nil)
					in.Close(ctx)
					if c.interrupt && !errors.Is(err, errStop) {
						t.Errorf("%s: %v: the context's cause is not in the error", c.name, err)
					}
				} else if err == nil {
					in.Close(ctx)
				}
				if c.want.Kind == "host panic" && c.want.Message == "boom" && !errors.Is(err, errBoom) {
					t.Errorf("%s: %v: the panic's error is not in the error", c.name, err)
				}
				o := errorValue(err)
				if c.anyStack {
					for _, f := range o.Frames {
						if f != ".inner" {
							t.Errorf("%s: frame %s, want .inner", c.name, f)
						}
					}
					if len(o.Frames) > engine.MaxFrames {
						t.Errorf("%s: %d frames, want at most %d", c.name, len(o.Frames), engine.MaxFrames)
					}
					o.Frames = nil
				}
				if !reflect.DeepEqual(o, c.want) {
					t.Errorf("%s: got %+v\nwant %+v\n(err %v)", c.name, o, c.want, err)
				}
				got[c.name] = append(got[c.name], o)
				m.Close(ctx)
			}
		})
	}
	for name, os := range got {
		for _, o := range os[1:] {
			if !reflect.DeepEqual(o, os[0]) {
				t.Errorf("%s: the engines differ: %+v and %+v", name, os[0], o)
			}
		}
	}
}

var errStop = errors.New("stopped by the test")
