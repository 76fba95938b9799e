package engine

import (
	"context"
	"io"
)

// ValueType is a Wasm value type of a host function parameter or result.
type ValueType byte

// The value types host calls use.
const (
	I32 ValueType = iota + 1
	I64
)

// Memory is a guest's linear memory as a host call sees it.
type Memory interface {
	// Read returns a view of n bytes at offset, valid until the guest runs
	// again; ok is false when the range is outside memory.
	Read(offset, n uint32) (b []byte, ok bool)
	// Write copies b to offset; ok is false when it does not fit.
	Write(offset uint32, b []byte) (ok bool)
}

// HostFunc implements one import. Params arrive in stack (i32 as uint32,
// i64 as uint64); results are written back to stack from index 0. ctx is the
// one given to Instance.Call. A HostFunc may unwind the guest by panicking:
// the call then ends with a *HostPanicError.
type HostFunc func(ctx context.Context, mem Memory, stack []uint64)

// Import is a host function offered to guests.
type Import struct {
	Module, Name    string
	Params, Results []ValueType
	Func            HostFunc
}

// Config configures an engine.
type Config struct {
	// Imports are the host functions, besides WASI, guests may import.
	Imports []Import
	// CacheDir keeps compiled code on disk so a restart does not recompile;
	// "" keeps it in memory only.
	CacheDir string
	// MemoryLimitPages caps each instance's linear memory (64 KiB pages).
	MemoryLimitPages uint32
}

// Engine compiles modules. Its methods, and those of the Modules it
// compiles, may be called from several goroutines at once.
type Engine interface {
	// Compile validates and compiles wasm.
	Compile(ctx context.Context, wasm []byte) (Module, error)
	// Close releases the engine, once nothing uses it or what it made.
	Close(ctx context.Context) error
}

// ImportRef names a function a module imports.
type ImportRef struct{ Module, Name string }

// FuncType is a function signature.
type FuncType struct{ Params, Results []ValueType }

// Module is a compiled module, ready to instantiate many times.
type Module interface {
	Imports() []ImportRef
	// Exports lists the exported functions with their signatures.
	Exports() map[string]FuncType
	HasMemory() bool
	// Instantiate creates a fresh instance whose WASI view of the world (time,
	// randomness, stdout/stderr) comes from sys. It runs the module's start
	// function, then _initialize if exported, as Instance.Call runs a
	// function: with ctx, ending with the same errors.
	Instantiate(ctx context.Context, sys Sys) (Instance, error)
	Close(ctx context.Context) error
}

// Instance is one live instance of a module. It is used from one goroutine
// at a time.
type Instance interface {
	// Call runs the exported function name with no params or results. Host
	// functions the guest calls get ctx.
	//
	// An engine's duties, the same on every engine:
	//   - When ctx is done the guest is stopped, even in a loop without host
	//     calls, and Call returns Interrupted(ctx): errors.Is finds
	//     ErrInterrupted and the context's cause in it. A ctx done before
	//     the call does not start the guest.
	//   - A trap is a *TrapError whose Message is one of the Trap constants
	//     for the traps WebAssembly defines, with the guest's stack as Frames
	//     named by Frame's rule.
	//   - A trap of a guest whose memory had grown past half of
	//     Config.MemoryLimitPages is a *MemoryError wrapping the *TrapError.
	//   - WASI proc_exit(code) is an *ExitError, code 0 too.
	//   - A HostFunc that panics is a *HostPanicError; when it panicked with
	//     an error, errors.Is and errors.As find that error in Call's.
	//   - Any other error (no such export, a closed instance) is the engine's
	//     own, to be reported by its text.
	//
	// After an exit or an interruption the instance may not be usable again
	// (wazero closes it); after a trap or a host function's panic it is.
	Call(ctx context.Context, name string) error
	// MemorySize is the size of the instance's linear memory now, in
	// bytes (0 without one): what it holds of the host's memory while no
	// guest code runs on it. It is called between calls, or from one of
	// the instance's own host functions (a guest parking in await).
	MemorySize() uint64
	Close(ctx context.Context) error
}

// Sys is what WASI shows an instance instead of the machine: virtual clocks, a
// seeded random source and captured output. No files, environment or sockets.
type Sys interface {
	Walltime() (sec int64, nsec int32)
	Nanotime() int64
	Nanosleep(ns int64)
	io.Reader // random_get
	Stdout() io.Writer
	Stderr() io.Writer
}
