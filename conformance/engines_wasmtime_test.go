//go:build wasmtime

package conformance_test

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wasmtimeengine"
)

// engines lists the engines of this build: wazero and wasmtime.
func engines() []engineChoice {
	return []engineChoice{wazero(), {"wasmtime", func(ctx context.Context, c engine.Config) (engine.Engine, error) {
		return wasmtimeengine.New(ctx, c)
	}}}
}
