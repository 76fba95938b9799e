package wazeroengine

import (
	"context"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/reprise-wasm/reprise/engine"
)

// Engine is an engine.Engine backed by one wazero runtime.
type Engine struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache
	limit uint64   // memory limit in bytes; 0 for none
	hosts []string // the host modules' names, to read stack traces
}

// New creates a runtime with the host imports and WASI instantiated.
func New(ctx context.Context, cfg engine.Config) (*Engine, error) {
	rc := wazero.NewRuntimeConfig().
		// Guests are hostile: a loop without host calls must still stop when
		// its step budget runs out. This costs a check per loop iteration.
		WithCloseOnContextDone(true)
	if cfg.MemoryLimitPages > 0 {
		rc = rc.WithMemoryLimitPages(cfg.MemoryLimitPages)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache in %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cache))
	e := &Engine{rt: rt, cache: cache, limit: uint64(cfg.MemoryLimitPages) * 65536, hosts: []string{wasi_snapshot_preview1.ModuleName}}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		e.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	builders := map[string]wazero.HostModuleBuilder{}
	var order []string
	for _, imp := range cfg.Imports {
		b, ok := builders[imp.Module]
		if !ok {
			b = rt.NewHostModuleBuilder(imp.Module)
			builders[imp.Module] = b
			order = append(order, imp.Module)
			if !slices.Contains(e.hosts, imp.Module) {
				e.hosts = append(e.hosts, imp.Module)
			}
		}
		f := imp.Func
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
				f(ctx, m.Memory(), stack) // api.Memory satisfies engine.Memory: no wrapper, no allocation
			}), types(imp.Params), types(imp.Results)).
			Export(imp.Name)
	}
	for _, name := range order {
		if _, err := builders[name].Instantiate(ctx); err != nil {
			e.Close(ctx)
			return nil, fmt.Errorf("instantiate host module %s: %w", name, err)
		}
	}
	return e, nil
}

func types(vs []engine.ValueType) []api.ValueType {
	out := make([]api.ValueType, len(vs))
	for i, v := range vs {
		out[i] = toAPI(v)
	}
	return out
}

func toAPI(v engine.ValueType) api.ValueType {
	if v == engine.I64 {
		return api.ValueTypeI64
	}
	return api.ValueTypeI32
}

func fromAPI(vs []api.ValueType) []engine.ValueType {
	out := make([]engine.ValueType, len(vs))
	for i, v := range vs {
		switch v {
		case api.ValueTypeI32:
			out[i] = engine.I32
		case api.ValueTypeI64:
			out[i] = engine.I64
		default:
			out[i] = 0 // a type host calls never use; signature checks fail on it
		}
	}
	return out
}

// Compile implements engine.Engine. A panic of wazero's decoder or
// validator on hostile bytes is an error of this module, not of the
// process.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (_ engine.Module, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the engine failed on this module: %v", p)
		}
	}()
	cm, err := e.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	return &module{e: e, cm: cm}, nil
}

// Close implements engine.Engine.
func (e *Engine) Close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

type module struct {
	e  *Engine
	cm wazero.CompiledModule
}

func (m *module) Imports() []engine.ImportRef {
	defs := m.cm.ImportedFunctions()
	out := make([]engine.ImportRef, 0, len(defs))
	for _, d := range defs {
		mod, name, _ := d.Import()
		out = append(out, engine.ImportRef{Module: mod, Name: name})
	}
	return out
}

func (m *module) Exports() map[string]engine.FuncType {
	defs := m.cm.ExportedFunctions()
	out := make(map[string]engine.FuncType, len(defs))
	for name, d := range defs {
		out[name] = engine.FuncType{Params: fromAPI(d.ParamTypes()), Results: fromAPI(d.ResultTypes())}
	}
	return out
}

func (m *module) HasMemory() bool {
	_, ok := m.cm.ExportedMemories()["memory"]
	return ok
}

func (m *module) Instantiate(ctx context.Context, s engine.Sys) (engine.Instance, error) {
	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: many instances of one module may live at once
		WithStartFunctions(). // _initialize is called below, as Call calls a function
		WithRandSource(s).
		WithWalltime(s.Walltime, 1).
		WithNanotime(s.Nanotime, 1).
		WithNanosleep(s.Nanosleep).
		WithOsyield(func() {}).
		WithStdout(s.Stdout()).
		WithStderr(s.Stderr())
	names := frameNames{module: m.cm.Name(), hosts: m.e.hosts}
	mod, err := m.e.rt.InstantiateModule(ctx, m.cm, cfg)
	if err != nil {
		return nil, fromWazero(ctx, startError(err), names)
	}
	in := &instance{mod: mod, limit: m.e.limit, names: names}
	if mod.ExportedFunction("_initialize") != nil {
		if err := in.Call(ctx, "_initialize"); err != nil {
			mod.Close(ctx)
			return nil, err
		}
	}
	return in, nil
}

func (m *module) Close(ctx context.Context) error { return m.cm.Close(ctx) }

type instance struct {
	mod   api.Module
	limit uint64
	names frameNames
}

// Call implements engine.Instance: wazero's errors become the engine's.
func (i *instance) Call(ctx context.Context, name string) error {
	fn := i.mod.ExportedFunction(name)
	if fn == nil {
		return fmt.Errorf("module does not export %q", name)
	}
	if ctx.Err() != nil {
		return engine.Interrupted(ctx)
	}
	_, err := fn.Call(ctx)
	if err == nil {
		return nil
	}
	err = fromWazero(ctx, err, i.names)
	if _, trap := err.(*engine.TrapError); trap && i.limit > 0 {
		if mem := i.mod.Memory(); mem != nil && uint64(mem.Size()) > i.limit/2 {
			err = &engine.MemoryError{Err: err, Size: uint64(mem.Size()), Limit: i.limit}
		}
	}
	return err
}

func (i *instance) Close(ctx context.Context) error { return i.mod.Close(ctx) }
