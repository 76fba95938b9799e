package conformance_test

import (
	"context"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
)

// engineChoice is an engine the suite runs on.
type engineChoice struct {
	name string
	new  func(context.Context, engine.Config) (engine.Engine, error)
}

func wazero() engineChoice {
	return engineChoice{"wazero", func(ctx context.Context, c engine.Config) (engine.Engine, error) { return wazeroengine.New(ctx, c) }}
}

// engineNamed returns the engine called name (the crash test's host process
// gets it by name).
func engineNamed(name string) engineChoice {
	for _, e := range engines() {
		if e.name == name {
			return e
		}
	}
	return wazero()
}
