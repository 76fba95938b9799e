package wasmbin

// maxLocals bounds the locals of one function, as Wasmtime and V8 do: a few
// bytes declare 2^32 of them, and an engine allocates for them (wazero does).
const maxLocals = 50_000

// locals checks the local declarations of every function body; the
// instructions after them are skipped. It returns the largest body's size.
func (r *reader) locals() (largest uint32) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			r.fail("function body runs past the end at offset %d", r.i)
			return
		}
		largest = max(largest, size)
		end := r.i + int(size)
		body := reader{b: r.b[:end], i: r.i}
		var sum uint64
		for k := body.count("local declarations"); k > 0 && body.err == nil; k-- {
			sum += uint64(body.u32())
			body.valType()
		}
		if body.err != nil {
			r.fail("locals of the function body at offset %d: %v", r.i, body.err)
			return
		}
		if sum > maxLocals {
			r.fail("a function declares %d locals; at most %d are allowed", sum, maxLocals)
			return
		}
		r.i = end
	}
	return largest
}
