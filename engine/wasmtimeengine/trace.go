//go:build wasmtime

package wasmtimeengine

// The wasm stack of an error that is not a trap. When a host function fails
// (it panicked: see hostPanic), Wasmtime hands the failure back as an error
// that carries the guest's stack, but wasmtime-go reads the stack of a trap
// only: errorFrames reads it through Wasmtime's C API, as interrupt.go does.

/*
#include <stddef.h>
#include <stdint.h>

// Declared rather than included, as in interrupt.go. The layouts are those
// of wasm.h's vectors.
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_frame_t wasm_frame_t;
typedef struct { size_t size; wasm_frame_t **data; } reprise_frame_vec_t;
typedef struct { size_t size; char *data; } reprise_name_t;

extern void wasmtime_error_wasm_trace(const wasmtime_error_t *, reprise_frame_vec_t *out);
extern void wasm_frame_vec_delete(reprise_frame_vec_t *);
extern uint32_t wasm_frame_func_index(const wasm_frame_t *);
extern size_t wasm_frame_module_offset(const wasm_frame_t *);
extern const reprise_name_t *wasmtime_frame_func_name(const wasm_frame_t *);
extern const reprise_name_t *wasmtime_frame_module_name(const wasm_frame_t *);
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/reprise-wasm/reprise/engine"
)

// errorFrames appends the wasm stack err carries to stack, up to
// engine.MaxFrames.
func errorFrames(stack engine.Stack, err *wasmtime.Error) engine.Stack {
	p, perr := cPtr(err)
	if perr != nil {
		return stack // an unknown wasmtime-go: the stack is only missing
	}
	var vec C.reprise_frame_vec_t
	C.wasmtime_error_wasm_trace((*C.wasmtime_error_t)(p), &vec)
	runtime.KeepAlive(err)
	defer C.wasm_frame_vec_delete(&vec)
	frames := unsafe.Slice(vec.data, vec.size)
	for _, f := range frames {
		if len(stack) == engine.MaxFrames {
			break
		}
		stack = append(stack, newFrame(uint32(C.wasm_frame_func_index(f)),
			goName(C.wasmtime_frame_module_name(f)), goName(C.wasmtime_frame_func_name(f)),
			uint(C.wasm_frame_module_offset(f))))
	}
	return stack
}

func goName(n *C.reprise_name_t) *string {
	if n == nil {
		return nil
	}
	s := C.GoStringN(n.data, C.int(n.size))
	return &s
}
