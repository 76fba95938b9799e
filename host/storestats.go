package host

import (
	"context"

	"github.com/reprise-wasm/reprise/store"
)

// StoreStats returns the figures of the host's store: executions by state,
// journal bytes, sync latency (see store.Stats).
func (h *Host) StoreStats(ctx context.Context) (store.Stats, error) { return h.store.Stats(ctx) }
