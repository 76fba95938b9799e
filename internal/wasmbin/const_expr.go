package wasmbin

// constExpr steps over a constant expression (an offset, a table's or an
// element's initializer) as wazero reads one.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.sleb(5)
		case 0x42: // i64.const
			r.sleb(10)
		case 0x43: // f32.const
			r.skip(4, "f32.const")
		case 0x44: // f64.const
			r.skip(8, "f64.const")
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null: an abstract heap type, or a type index
			if r.i < len(r.b) && (r.b[r.i] == 0x70 || r.b[r.i] == 0x6f || r.b[r.i] == 0x69) {
				r.i++
			} else {
				r.u32()
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if r.byte() != 0x0c {
				r.fail("vector instruction in a constant expression at offset %d", r.i-1)
				return
			}
			r.skip(16, "v128.const")
		default:
			if r.err == nil {
				r.fail("opcode 0x%02x in a constant expression at offset %d", op, r.i-1)
			}
			return
		}
	}
}
