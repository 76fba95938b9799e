// Package engine is the small, engine-neutral surface the host runs guests
// on. Host calls are written once against it; engine/wazeroengine (the
// default, pure Go) and engine/wasmtimeengine (cgo, built with the wasmtime
// tag) implement it, and the host imports neither: whoever starts a host
// chooses its engine (host.Config.NewEngine).
//
// # What an engine must do
//
// The host's guarantees rest on these, and the conformance suite checks
// them on every engine:
//
//   - Determinism. What a guest sees of the world through WASI comes from
//     the Sys given to Module.Instantiate: wall and monotonic clocks,
//     sleeping, randomness, stdout and stderr. A guest sees no files,
//     environment, arguments or sockets, so that replay of a journal gives
//     the same run.
//   - Imports. Config.Imports are the host functions a guest may import
//     besides WASI; a guest importing anything else fails to instantiate.
//   - Memory. Config.MemoryLimitPages caps the linear memory of every
//     instance: memory.grow past it returns -1 to the guest, and a module
//     whose memory starts past it fails to compile or instantiate.
//   - Stopping. When the context of Instance.Call (or Module.Instantiate)
//     is done the guest stops soon after, even in a loop without host
//     calls; this is how the host enforces its step time limit and stops
//     guests on cancellation and shutdown.
//   - Errors. A call ends with the errors of this package (see
//     Instance.Call): *TrapError, with messages from the Trap constants and
//     Frames named the same way on every engine; *MemoryError; *ExitError;
//     Interrupted's error (errors.Is ErrInterrupted); *HostPanicError. The
//     host tells them apart with errors.As and errors.Is and shows a trap's
//     Message and Stack to users, so no engine's own text leaks past its
//     package.
//
// # Concurrency
//
// An Engine and its Modules may be used from several goroutines at once:
// the host compiles modules and instantiates one module on several
// goroutines together. An Instance is used from one goroutine at a time;
// its Call's context may be done from any goroutine. Close an Engine only
// when nothing it made is in use.
package engine
