package wasmbin

// Limits are the limits of a memory or table: pages or elements.
type Limits struct {
	Min, Max uint32
	HasMax   bool // Max is declared
}

// limits reads the limits of a table or memory. Only the flags of 32-bit,
// unshared memories and tables are accepted: Wasm 2.0 (threads, memory64
// and table64 are not).
func (r *reader) limits() Limits {
	var l Limits
	switch flags := r.byte(); flags {
	case 0:
		l.Min = r.u32()
	case 1:
		l.Min, l.Max, l.HasMax = r.u32(), r.u32(), true
	default:
		r.fail("limits flags 0x%02x at offset %d: only 32-bit unshared memories and tables are supported (Wasm 2.0, no threads or memory64)", flags, r.i-1)
	}
	return l
}
