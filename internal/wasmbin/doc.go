// Package wasmbin reads a WebAssembly binary far enough to tell whether an
// engine can be given it, before the engine sees a byte.
//
// An engine's decoder may allocate for a count or length before it reads
// what it counts: wazero does, for every vector, every name, every data
// segment, element list, function type and local, and the entries of the
// "name" section. A 22-byte module declaring 2^31 imports once ran the
// process out of memory that way. [Read] walks every one of those the way
// wazero's decoder does and checks that each count or length fits in the
// bytes that follow it, so that what an engine allocates while decoding is
// in proportion to the module's size. It skips instructions, so it is cheap
// on a large module.
//
// Memories and tables are the other thing a module can make a host allocate
// per instance out of proportion to its size: a few bytes declare
// gigabytes. Read reports what is declared ([Module.Memories],
// [Module.Tables], and the imports of anything other than a function), so
// that the caller can hold them against its limits; it decides nothing
// about them itself. [Module.Rewrite] then gives the bytes to compile: every
// table's maximum lowered to fit a budget of elements, every call that can
// recurse counted against a call stack budget (depth.go says how; the
// engines keep the call stack outside linear memory, and wazero lets it
// grow to 400 MB), and the custom sections dropped but a well-formed "name"
// section. [StripCustom] only drops the custom sections.
//
// The files follow the binary format, one section a file, as wazero's
// internal/wasm/binary does: reader.go has the LEB128 and byte primitives,
// module.go the walk over the sections, rewrite.go what is written back,
// instr.go the instructions (read only by the call-depth rewrite) and
// depth.go that rewrite.
package wasmbin
