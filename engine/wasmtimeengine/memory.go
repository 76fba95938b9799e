//go:build wasmtime

package wasmtimeengine

import "github.com/bytecodealliance/wasmtime-go/v39"

// memory is the calling guest's memory as one host call sees it
// (engine.Memory). The bytes are looked up once per host call, on first use:
// they stay put until the guest runs again and may then move (memory.grow).
type memory struct {
	in     *instance
	caller *wasmtime.Caller // the running host call's; nil between calls
	data   []byte
}

func (m *memory) bytes() []byte {
	if m.data == nil && m.caller != nil {
		if m.in.memory == nil {
			// The export is the same memory for the store's lifetime.
			ext := m.caller.GetExport("memory")
			if ext == nil || ext.Memory() == nil {
				return nil
			}
			m.in.memory = ext.Memory()
		}
		m.data = m.in.memory.UnsafeData(m.caller)
	}
	return m.data
}

// Read implements engine.Memory.
func (m *memory) Read(offset, n uint32) ([]byte, bool) {
	d := m.bytes()
	if uint64(offset)+uint64(n) > uint64(len(d)) {
		return nil, false
	}
	return d[offset : offset+n : offset+n], true
}

// Write implements engine.Memory.
func (m *memory) Write(offset uint32, b []byte) bool {
	d := m.bytes()
	if uint64(offset)+uint64(len(b)) > uint64(len(d)) {
		return false
	}
	copy(d[offset:], b)
	return true
}
