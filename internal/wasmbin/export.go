package wasmbin

// exports reads the export section, whose names an engine allocates for.
func (r *reader) exports() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		if kind := r.byte(); r.err == nil && kind > 4 {
			r.fail("export of unknown kind %d at offset %d", kind, r.i-1)
			return
		}
		r.u32()
	}
}
