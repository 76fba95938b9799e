//go:build wasmtime

package host_test

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wasmtimeengine"
)

// onWazero says the tests' hosts run on wazero.
const onWazero = false

// testEngine is the engine the tests' hosts run on: Wasmtime, so that
// `go test -tags wasmtime ./host/` runs the whole suite on it.
func testEngine() func(context.Context, engine.Config) (engine.Engine, error) {
	return func(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
		return wasmtimeengine.New(ctx, cfg)
	}
}
