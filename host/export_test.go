package host

import "github.com/reprise-wasm/reprise/engine"

// SetTestImports offers extra host functions to guests, for tests that must
// break the rules on purpose (an unjournaled source of nondeterminism).
func SetTestImports(cfg *Config, imps []engine.Import) { cfg.testImports = imps }
