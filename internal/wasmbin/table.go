package wasmbin

// tableBytes are a table's bytes before and after its limits (the element
// type, and an initializer), kept when Rewrite writes the table again.
type tableBytes struct {
	head, tail []byte
}

// table reads a table type, with an initializer when it has one.
func (r *reader) table() (Limits, tableBytes) {
	start := r.i
	init := false
	if r.i < len(r.b) && r.b[r.i] == 0x40 { // 0x40 0x00 tabletype expr
		r.i++
		if r.byte() != 0 {
			r.fail("table at offset %d: 0x40 not followed by 0x00", start)
		}
		init = true
	}
	r.valType()
	if r.err != nil {
		return Limits{}, tableBytes{}
	}
	t := tableBytes{head: r.b[start:r.i]}
	l := r.limits()
	if init {
		at := r.i
		r.constExpr()
		t.tail = r.b[at:r.i]
	}
	return l, t
}
