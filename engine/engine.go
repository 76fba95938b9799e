// Package engine is the small, engine-neutral surface the host runs guests on.
// Host calls are written once against it; wazeroengine implements it, and a
// second engine only has to implement these few interfaces.
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
// one given to Instance.Call.
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

// Engine compiles modules.
type Engine interface {
	// Compile validates and compiles wasm.
	Compile(ctx context.Context, wasm []byte) (Module, error)
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
	// randomness, stdout/stderr) comes from sys; it runs _initialize if exported.
	Instantiate(ctx context.Context, sys Sys) (Instance, error)
	Close(ctx context.Context) error
}

// Instance is one live instance of a module.
type Instance interface {
	// Call runs the exported function name with no params or results. When ctx
	// is done the guest is stopped, even in a loop with no host calls.
	Call(ctx context.Context, name string) error
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
