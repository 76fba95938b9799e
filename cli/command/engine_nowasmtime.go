//go:build !wasmtime

package command

import (
	"context"
	"errors"

	"github.com/reprise-wasm/reprise/engine"
)

// wasmtimeEngine is the constructor behind --engine wasmtime. This build is
// pure Go, without Wasmtime: engine_wasmtime.go has it with -tags wasmtime.
func wasmtimeEngine() (func(context.Context, engine.Config) (engine.Engine, error), error) {
	return nil, errors.New("this reprise was built without wasmtime; build with -tags wasmtime")
}
