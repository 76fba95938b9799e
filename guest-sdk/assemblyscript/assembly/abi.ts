// Raw host imports of the Reprise guest ABI, version 1 (module "reprise_v1").
// See abi/ABI.md. Pointers and lengths are i32 offsets/sizes in linear memory;
// a negative result is an error code (see ErrorCode in index.ts).
//
// Most programs use the wrappers in index.ts instead.

// @ts-ignore: decorator
@external("reprise_v1", "input")
export declare function input(buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "resolve")
export declare function resolve(ptr: usize, len: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "reject")
export declare function reject(ptr: usize, len: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "invoke")
export declare function invoke(namePtr: usize, nameLen: i32, argsPtr: usize, argsLen: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "sleep")
export declare function sleep(durationNs: i64): i32;

// @ts-ignore: decorator
@external("reprise_v1", "promise")
export declare function promise(timeoutNs: i64): i32;

// @ts-ignore: decorator
@external("reprise_v1", "http")
export declare function http(reqPtr: usize, reqLen: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "await")
export declare function await_(handle: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "await_any")
export declare function await_any(handlesPtr: usize, count: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "value")
export declare function value(handle: i32, buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "promise_id")
export declare function promise_id(handle: i32, buf: usize, cap: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "now")
export declare function now(): i64;

// @ts-ignore: decorator
@external("reprise_v1", "random")
export declare function random(buf: usize, len: i32): i32;

// @ts-ignore: decorator
@external("reprise_v1", "log")
export declare function log(level: i32, ptr: usize, len: i32): void;
