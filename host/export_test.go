package host

import (
	"time"

	"github.com/reprise-wasm/reprise/engine"
)

// SetTestImports offers extra host functions to guests, for tests that must
// break the rules on purpose (an unjournaled source of nondeterminism).
func SetTestImports(cfg *Config, imps []engine.Import) { cfg.testImports = imps }

// SetReclaimEvery sets the least time between two reclaims of purged space.
func SetReclaimEvery(cfg *Config, d time.Duration) { cfg.reclaimEvery = d }

// Active reports whether a goroutine of h drives execution id right now.
func (h *Host) Active(id string) bool {
	h.execMu.Lock()
	defer h.execMu.Unlock()
	_, ok := h.active[id]
	return ok
}

// InvalidTransitions counts the execution and module state transitions h
// refused: a bug of the host, which tests check never happens.
func InvalidTransitions(h *Host) uint64 { return h.execs.invalid.Load() + h.modules.invalid.Load() }

// LiveByState counts the executions h drives by state name.
func LiveByState(h *Host) map[string]int64 {
	m := map[string]int64{}
	for s := execQueued; s < execDone; s++ {
		if n := h.execs.by[s].Load(); n != 0 {
			m[s.String()] = n
		}
	}
	return m
}

// SendingHTTP reports whether h is sending the request of promise id now.
func SendingHTTP(h *Host, id string) bool {
	h.httpMu.Lock()
	defer h.httpMu.Unlock()
	return h.inflight[id]
}

// Watching counts the promises someone in h waits on (Host.watchers).
func Watching(h *Host) int {
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	return len(h.watchers)
}
