//go:build wasmtime

package command

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wasmtimeengine"
)

// wasmtimeEngine is the constructor behind --engine wasmtime: this build has
// Wasmtime (built with -tags wasmtime, through cgo).
func wasmtimeEngine() (func(context.Context, engine.Config) (engine.Engine, error), error) {
	return func(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
		return wasmtimeengine.New(ctx, cfg)
	}, nil
}
