//go:build !wasmtime

package host_test

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
)

// testEngine is the engine the tests' hosts run on: nil, the host's default
// (wazero). Built with -tags wasmtime, engine_wasmtime_test.go gives Wasmtime.
func testEngine() func(context.Context, engine.Config) (engine.Engine, error) { return nil }
