//go:build !wasmtime

package host_test

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
)

// onWazero says the tests' hosts run on wazero.
const onWazero = true

// testEngine is the engine the tests' hosts run on: wazero, the default.
// Built with -tags wasmtime, engine_wasmtime_test.go gives Wasmtime.
func testEngine() func(context.Context, engine.Config) (engine.Engine, error) {
	return func(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
		return wazeroengine.New(ctx, cfg)
	}
}
