package wasmbin

// elements reads the element section: every segment's list of function
// indexes or expressions, which an engine allocates for by their count.
func (r *reader) elements() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		at := r.i
		prefix := r.u32()
		if r.err == nil && prefix > 7 {
			r.fail("element segment at offset %d has prefix %d", at, prefix)
			return
		}
		if prefix == 2 || prefix == 6 {
			r.u32() // table index
		}
		if prefix&1 == 0 { // active: an offset
			r.constExpr()
		}
		if prefix&3 != 0 { // an element kind or type
			if prefix&4 == 0 {
				r.byte()
			} else {
				r.valType()
			}
		}
		if prefix&4 == 0 {
			for k := r.count("element function indexes"); k > 0 && r.err == nil; k-- {
				r.u32()
			}
		} else {
			for k := r.count("element expressions"); k > 0 && r.err == nil; k-- {
				r.constExpr()
			}
		}
	}
}
