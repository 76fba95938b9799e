package wasmbin

import "unicode/utf8"

// isNames reports whether the custom section whose payload is the rest of r
// is a well-formed "name" section.
func isNames(r reader) bool {
	return r.name() == "name" && r.err == nil && validNames(r)
}

// validNames reports whether the rest of r is a well-formed "name" section
// whose every count and length fits in its bytes: the module, function and
// local names, each subsection exactly as long as it says.
func validNames(r reader) bool {
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			return false
		}
		end := r.i + int(size)
		sub := reader{b: r.b[:end], i: r.i}
		nameMap := func() {
			for n := sub.count("names"); n > 0 && sub.err == nil; n-- {
				sub.u32()
				sub.utf8()
			}
		}
		switch id {
		case 0:
			sub.utf8()
		case 1:
			nameMap()
		case 2:
			for n := sub.count("functions"); n > 0 && sub.err == nil; n-- {
				sub.u32()
				nameMap()
			}
		default:
			sub.i = end
		}
		if sub.err != nil || sub.i != end {
			return false
		}
		r.i = end
	}
	return r.err == nil
}

// utf8 reads a name that must be valid UTF-8, as a name section's are.
func (r *reader) utf8() {
	if s := r.name(); r.err == nil && !utf8.ValidString(s) {
		r.fail("name at offset %d is not UTF-8", r.i)
	}
}
