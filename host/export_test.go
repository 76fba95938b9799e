package host

import "github.com/reprise-wasm/reprise/engine"

// SetTestImports offers extra host functions to guests, for tests that must
// break the rules on purpose (an unjournaled source of nondeterminism).
func SetTestImports(cfg *Config, imps []engine.Import) { cfg.testImports = imps }

// Active reports whether a goroutine of h drives execution id right now.
func (h *Host) Active(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.active[id]
	return ok
}
