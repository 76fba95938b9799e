// Package wasmtest assembles small WebAssembly modules by hand, for tests that
// need exact control over the host calls a guest makes, or malformed and
// hostile modules, without a guest toolchain.
//
// A [Module] lists imported functions ([Import]), defined ones ([Func], raw
// instructions without the final end), an optional exported memory,
// funcref tables ([Table]) and active data segments ([Data]);
// [Module.Bytes] encodes it in the binary format. Function indexes count
// the imports first, so add every import before the first function. The
// instruction helpers ([Call], [I32Const], [I64Const], [Cat], [Countdown]
// for a loop, and constants such as [Drop]) build bodies from bytes, and
// [Section] appends a raw section for modules a builder would never make.
// [Invoker] is a whole guest: a fan-out of invokes (a recursive bomb when it
// invokes itself).
// [ABIStubs] are the host calls of abi.Signatures as engine imports that do
// nothing, so a guest links outside a host (engine benchmarks).
//
// It is used by the tests of host, server, client, the command line, the
// conformance suite and the engines. Everything here is a plain value or a
// pure function: there is no state and no concurrency.
package wasmtest
