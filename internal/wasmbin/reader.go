package wasmbin

import "fmt"

// reader decodes the binary format; the first error sticks, and every read
// after it returns a zero value.
type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.i >= len(r.b) {
		r.fail("unexpected end at offset %d", r.i)
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

// u32 reads an unsigned LEB128 of at most 5 bytes, as the format allows.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if shift == 28 && c&0x70 != 0 {
			r.fail("integer too large at offset %d", r.i-1)
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("integer representation too long at offset %d", r.i-1)
	return 0
}

// sleb steps over a signed LEB128 of at most max bytes.
func (r *reader) sleb(max int) {
	for range max {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("integer representation too long at offset %d", r.i-1)
}

// name reads a name: its length, then that many bytes, which must be there.
func (r *reader) name() string {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("name runs past the end at offset %d", r.i)
		return ""
	}
	r.i += int(n)
	return string(r.b[r.i-int(n) : r.i])
}

// count reads the length of a vector whose entries take at least a byte
// each: it must fit in what is left of the section.
func (r *reader) count(what string) uint32 {
	at := r.i
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("%s at offset %d: %d of them declared with %d bytes left", what, at, n, len(r.b)-r.i)
		return 0
	}
	return n
}

// skip steps over n bytes, which must be there.
func (r *reader) skip(n uint32, what string) {
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("%s at offset %d: %d bytes declared with %d left", what, r.i, n, len(r.b)-r.i)
		return
	}
	if r.err == nil {
		r.i += int(n)
	}
}
