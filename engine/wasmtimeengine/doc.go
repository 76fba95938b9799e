//go:build wasmtime

// Package wasmtimeengine runs guests on Wasmtime (through cgo and
// wasmtime-go). It is built only with the wasmtime build tag, so the default
// build stays pure Go.
//
// It gives guests the same world as engine/wazeroengine: the host imports,
// WASI without files, environment, arguments or sockets, and clocks,
// randomness, sleeping and output that come from the engine.Sys of each
// instance (wasi.go answers those calls itself). For replay on another
// machine, Wasmtime is configured to canonicalize NaNs, make relaxed SIMD
// deterministic and refuse threads.
//
// Each instance has a store of its own, whose limiter caps its memory at
// Config.MemoryLimitPages. A guest is stopped when its context is done, even
// in a loop without host calls, through Wasmtime's epoch interruption
// (interrupt.go): the epoch is the engine's, so each store decides in a
// callback whether the tick is for it.
//
// Its errors are the engine package's: trap codes become engine.TrapError
// messages in the same words as wazero's, frames are named as
// engine.Frame says (at most engine.MaxFrames of them), and a host
// function's panic is caught where the function is called, so the guest
// unwinds with a trap that carries its stack, and comes back as an
// engine.HostPanicError, or an engine.ExitError for proc_exit.
package wasmtimeengine
