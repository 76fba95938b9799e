package host_test

import (
	"bytes"
	"testing"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// rejectsWith is a guest that rejects with value.
func rejectsWith(value []byte) []byte {
	m := wt.Module{Memory: int((len(value) >> 16) + 1), Data: []wt.Data{{Offset: 0, Bytes: value}}}
	reject := m.Import(abi.Module, abi.ImportReject, []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func(abi.DefaultEntry, nil, wt.I32Const(0), wt.I32Const(int32(len(value))), wt.Call(reject), wt.Drop)
	return m.Bytes()
}

// passesOn is a guest that invokes child, awaits it, and rejects with the
// child's value, read into a buffer of 256 KiB.
func passesOn(child string) []byte {
	const nameAt, bufAt, bufN = 16, 65536, 256 << 10
	m := wt.Module{Memory: 5, Data: []wt.Data{{Offset: nameAt, Bytes: []byte(child)}}}
	invoke := m.Import(abi.Module, abi.ImportInvoke, []byte{wt.I32, wt.I32, wt.I32, wt.I32}, []byte{wt.I32})
	await := m.Import(abi.Module, abi.ImportAwait, []byte{wt.I32}, []byte{wt.I32})
	value := m.Import(abi.Module, abi.ImportValue, []byte{wt.I32, wt.I32, wt.I32}, []byte{wt.I32})
	reject := m.Import(abi.Module, abi.ImportReject, []byte{wt.I32, wt.I32}, []byte{wt.I32})
	m.Func(abi.DefaultEntry, []byte{wt.I32}, // local 0: the handle, then the value's length
		wt.I32Const(nameAt), wt.I32Const(int32(len(child))), wt.I32Const(0), wt.I32Const(0), wt.Call(invoke), []byte{0x22, 0}, // local.tee 0
		wt.Call(await), wt.Drop,
		[]byte{0x20, 0}, wt.I32Const(bufAt), wt.I32Const(bufN), wt.Call(value), []byte{0x21, 0}, // local.set 0
		wt.I32Const(bufAt), []byte{0x20, 0}, wt.Call(reject), wt.Drop)
	return m.Bytes()
}

// A child's settled value is kept by its parent's run only when small; a
// larger one is read from the store when the guest asks for it. Either
// way the guest reads the same bytes, hot and after a replay.
func TestChildValuesLargeOrSmallReadTheSame(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		park int // Config.MaxParked: -1 sends every wait cold
	}{
		{"small, hot", 100, 0},
		{"large, hot", 200 << 10, 0},
		{"large, cold", 200 << 10, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, func(c *host.Config) {
				c.MaxParked = tc.park
				c.Retry = host.RetryPolicy{MaxAttempts: 1}
			})
			value := bytes.Repeat([]byte("v"), tc.size)
			h.deployRaw("child", rejectsWith(value))
			h.deployRaw("parent", passesOn("child"))
			p := h.run("parent", nil, host.InvokeOptions{})
			if p.State != store.Rejected || !bytes.Contains(p.Value.Data, value) {
				t.Fatalf("parent: %s with %d bytes, want REJECTED with the child's %d", p.State, len(p.Value.Data), len(value))
			}
		})
	}
}
