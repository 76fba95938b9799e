package wasmtest

import (
	"context"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
)

// ABIStubs are the host calls of abi.Signatures as engine imports that do
// nothing, so that guests link outside a host (engine benchmarks).
func ABIStubs() []engine.Import {
	var out []engine.Import
	for _, s := range abi.Signatures() {
		imp := engine.Import{Module: abi.Module, Name: s.Name, Func: func(context.Context, engine.Memory, []uint64) {}}
		for _, t := range s.Params {
			imp.Params = append(imp.Params, valueType(t))
		}
		for _, t := range s.Results {
			imp.Results = append(imp.Results, valueType(t))
		}
		out = append(out, imp)
	}
	return out
}

func valueType(t abi.ValueType) engine.ValueType {
	if t == abi.I64 {
		return engine.I64
	}
	return engine.I32
}
