package wasmbin

// types reads the type section: function types, alone or in recursion
// groups, whose parameter and result counts an engine allocates for. It
// returns how many types there are.
func (r *reader) types() (count uint32) {
	funcType := func() {
		if b := r.byte(); r.err == nil && b != 0x60 {
			r.fail("type at offset %d is not a function type (0x%02x)", r.i-1, b)
			return
		}
		for range 2 { // params, results
			for n := r.count("value types"); n > 0 && r.err == nil; n-- {
				r.valType()
			}
		}
		count++
	}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if r.i < len(r.b) && r.b[r.i] == 0x4e { // rec group
			r.i++
			for k := r.count("recursion group types"); k > 0 && r.err == nil; k-- {
				funcType()
			}
			continue
		}
		funcType()
	}
	return count
}

// typeIndex reads a function's type index, which must name a type of the
// type section (read before it: the sections come in order). wazero
// indexes its types with it before it checks it: out of range, it panicked.
func (r *reader) typeIndex(types uint32) {
	at := r.i
	if t := r.u32(); r.err == nil && t >= types {
		r.fail("type index %d at offset %d: the module declares %d types", t, at, types)
	}
}

// valType reads a value type: one byte, or a reference type prefix and its
// heap type.
func (r *reader) valType() {
	if b := r.byte(); b == 0x63 || b == 0x64 { // (ref null ht), (ref ht)
		r.sleb(5) // s33
	}
}
