package wasmbin

// data reads the data section: each segment's bytes must be there.
func (r *reader) data() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		at := r.i
		switch prefix := r.u32(); {
		case r.err != nil:
		case prefix == 0:
			r.constExpr()
		case prefix == 1:
		case prefix == 2:
			r.u32()
			r.constExpr()
		default:
			r.fail("data segment at offset %d has prefix %d", at, prefix)
		}
		r.skip(r.u32(), "data segment")
	}
}
