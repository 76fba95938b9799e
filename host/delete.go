package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/store"
)

// DeleteFunction unbinds name: invoking it fails with ErrUnknownFunction.
// Executions already started keep running and replaying, since they are
// pinned to their module, which is never deleted. Another node sharing the
// store may still invoke the name for up to functionTTL (its cache).
func (h *Host) DeleteFunction(ctx context.Context, name string) error {
	err := h.store.DeleteFunction(ctx, name)
	// Forget the cached binding after the store has: an Invoke racing with
	// this may have re-read it just before.
	h.funcMu.Lock()
	delete(h.funcs, name)
	h.funcMu.Unlock()
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w %q: no function of that name is deployed", ErrUnknownFunction, name)
	}
	return err
}
