//go:build wasip1

package reprise

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/reprise-wasm/reprise/abi"
)

// Host calls of ABI v1 (see abi/ABI.md). Pointers and lengths are i32 offsets
// into linear memory; the wrappers below are the only code that touches them.

//go:wasmimport reprise_v1 input
func hostInput(buf, cap uint32) int32

//go:wasmimport reprise_v1 resolve
func hostResolve(ptr, len uint32) int32

//go:wasmimport reprise_v1 reject
func hostReject(ptr, len uint32) int32

//go:wasmimport reprise_v1 invoke
func hostInvoke(namePtr, nameLen, argsPtr, argsLen uint32) int32

//go:wasmimport reprise_v1 sleep
func hostSleep(durationNs int64) int32

//go:wasmimport reprise_v1 promise
func hostPromise(timeoutNs int64) int32

//go:wasmimport reprise_v1 http
func hostHTTP(reqPtr, reqLen uint32) int32

//go:wasmimport reprise_v1 await
func hostAwait(handle int32) int32

//go:wasmimport reprise_v1 await_any
func hostAwaitAny(handlesPtr, count uint32) int32

//go:wasmimport reprise_v1 value
func hostValue(handle int32, buf, cap uint32) int32

//go:wasmimport reprise_v1 promise_id
func hostPromiseID(handle int32, buf, cap uint32) int32

//go:wasmimport reprise_v1 now
func hostNow() int64

//go:wasmimport reprise_v1 random
func hostRandom(buf, len uint32) int32

//go:wasmimport reprise_v1 log
func hostLog(level int32, ptr, len uint32)

// Errors a host call may return that are not bugs in the guest. They reach
// callers wrapped (test with errors.Is); every other error code is a
// programming error and panics.
var (
	ErrTooLarge = errors.New("payload too large")
	ErrLimit    = errors.New("execution limit reached")
	ErrDisabled = errors.New("capability not granted")
)

// check turns a negative host result into an error or, for codes that can
// only mean a bug (bad handle, bad memory, bad argument, already set), a
// panic: the trap message and stack then point at the faulty call.
func check(op string, code int32) error {
	if code >= 0 {
		return nil
	}
	var err error
	switch code {
	case abi.ErrTooLarge:
		err = ErrTooLarge
	case abi.ErrLimit:
		err = ErrLimit
	case abi.ErrDisabled:
		err = ErrDisabled
	default:
		panic(fmt.Sprintf("reprise: %s: %s (code %d)", op, abi.ErrorText(code), code))
	}
	return fmt.Errorf("reprise: %s: %w", op, err)
}

// must is check for calls whose Go API has no error result.
func must(op string, code int32) int32 {
	if err := check(op, code); err != nil {
		panic(err.Error())
	}
	return code
}

// ptr returns the address of s's first element in linear memory (Wasm
// addresses fit in 32 bits). The caller keeps s alive across the host call
// with runtime.KeepAlive.
func ptr[E any](s []E) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(s))))
}

// strPtr is ptr for strings, avoiding a copy.
func strPtr(s string) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

// readBytes implements the length-then-copy convention: ask with cap 0 for
// the length, allocate, ask again. The host's bytes are stable, so the second
// call returns the same length.
func readBytes(op string, call func(buf, cap uint32) int32) []byte {
	n := must(op, call(0, 0))
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	if m := must(op, call(ptr(b), uint32(n))); m != n {
		panic(fmt.Sprintf("reprise: %s: length changed from %d to %d", op, n, m))
	}
	runtime.KeepAlive(b)
	return b
}
