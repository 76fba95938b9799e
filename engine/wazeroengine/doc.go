// Package wazeroengine runs guests on wazero, the pure-Go WebAssembly
// runtime: the host's default engine, which needs no cgo.
//
// One Engine is one wazero runtime, with WASI and the host imports
// instantiated in it once. Each instance gets WASI's clocks, randomness,
// sleeping and output from its engine.Sys, and no files, environment,
// arguments or sockets. Config.MemoryLimitPages caps every instance's memory;
// a module whose memory starts past the cap does not compile or instantiate.
//
// A guest is stopped when its context is done, even in a loop without host
// calls: the runtime is built WithCloseOnContextDone, which checks the
// context at every loop back-edge and function entry and closes the
// instance, so an interrupted instance cannot be used again.
//
// wazero reports traps, a host function's panic, proc_exit and a done
// context in its own ways (text with the stack in it, *sys.ExitError with
// special exit codes); errors.go turns them into the engine package's
// errors, so nothing outside this package reads wazero's text. wazero keeps
// at most engine.MaxFrames frames of a stack and gives none for a stack
// overflow.
package wazeroengine
