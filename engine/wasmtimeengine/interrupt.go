//go:build wasmtime

package wasmtimeengine

// Stopping one guest without stopping the others. Wasmtime's epoch is the
// engine's, not a store's: incrementing it brings every running guest to its
// deadline. Each store therefore gets an epoch-deadline callback that traps
// only when its own stop flag is set and otherwise moves the deadline on.
// wasmtime-go does not bind that callback, so it is set here through
// Wasmtime's C API, which wasmtime-go links into the binary.

/*
#include <stdint.h>
#include <stdlib.h>

// Declared rather than included: the headers ship inside wasmtime-go's module,
// which is not on this package's include path. The types stay opaque.
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef uint8_t wasmtime_update_deadline_kind_t;

extern wasmtime_error_t *wasmtime_error_new(const char *);
extern void wasmtime_store_epoch_deadline_callback(
	wasmtime_store_t *store,
	wasmtime_error_t *(*func)(wasmtime_context_t *, void *, uint64_t *, wasmtime_update_deadline_kind_t *),
	void *data, void (*finalizer)(void *));

// reprise_epoch_deadline runs when the engine's epoch passes this store's
// deadline, on the thread running the guest. stop is the store's flag.
static wasmtime_error_t *reprise_epoch_deadline(wasmtime_context_t *cx, void *stop, uint64_t *delta, wasmtime_update_deadline_kind_t *kind) {
	if (__atomic_load_n((int32_t *)stop, __ATOMIC_ACQUIRE)) {
		return wasmtime_error_new("interrupted");
	}
	*delta = 1;
	*kind = 0; // WASMTIME_UPDATE_DEADLINE_CONTINUE: another guest was stopped
	return NULL;
}

// reprise_watch_epoch gives store a stop flag, freed with the store.
static int32_t *reprise_watch_epoch(wasmtime_store_t *store) {
	int32_t *stop = calloc(1, sizeof *stop);
	if (stop != NULL) {
		wasmtime_store_epoch_deadline_callback(store, reprise_epoch_deadline, stop, free);
	}
	return stop;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// stopFlag is a store's stop flag, in C memory: the epoch callback reads it
// on the guest's thread while interrupt sets it from another goroutine.
type stopFlag C.int32_t

func (f *stopFlag) set() { atomic.StoreInt32((*int32)(unsafe.Pointer(f)), 1) }

// reset clears the flag and reports whether it was set.
func (f *stopFlag) reset() bool { return atomic.SwapInt32((*int32)(unsafe.Pointer(f)), 0) != 0 }

// armInterrupt gives the instance's store its stop flag and an epoch deadline
// one tick ahead.
func (in *instance) armInterrupt() error {
	p, err := cPtr(in.store)
	if err != nil {
		return err
	}
	stop := C.reprise_watch_epoch((*C.wasmtime_store_t)(p))
	runtime.KeepAlive(in.store)
	if stop == nil {
		return errors.New("wasmtimeengine: out of memory for a stop flag")
	}
	in.stop = (*stopFlag)(unsafe.Pointer(stop))
	in.store.SetEpochDeadline(1)
	return nil
}

// cPtr is the C object behind v, a *wasmtime.Store or *wasmtime.Error.
// wasmtime-go keeps it unexported; reflection finds it by name, so a
// wasmtime-go that renames it fails here with an error rather than
// misbehaving.
func cPtr(v any) (unsafe.Pointer, error) {
	f := reflect.ValueOf(v).Elem().FieldByName("_ptr")
	if f.Kind() != reflect.Pointer || f.IsNil() {
		return nil, fmt.Errorf("wasmtimeengine: this wasmtime-go's %T has no _ptr: update cPtr", v)
	}
	return f.UnsafePointer(), nil
}
