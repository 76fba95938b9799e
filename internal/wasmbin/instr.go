package wasmbin

// Opcodes the call-depth rewrite looks for or writes.
const (
	opUnreachable  = 0x00
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opEnd          = 0x0b
	opCall         = 0x10
	opCallIndirect = 0x11
	opCallRef      = 0x14
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opI32Const     = 0x41
	opI32GtU       = 0x4b
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	blockEmpty     = 0x40
)

// instr steps over one instruction and returns its opcode and, for call,
// call_indirect and call_ref, its first immediate (the function or type
// index). An opcode it does not know is an error: the bytes then hold an
// instruction of a proposal no engine here takes, and a rewrite that
// cannot see every call must not pretend it bounded them.
func (r *reader) instr() (op byte, idx uint32) {
	at := r.i
	op = r.byte()
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op == 0xd1, op == 0xd3, op == 0xd4,
		op >= 0x45 && op <= 0xc4: // no immediate
	case op >= 0x02 && op <= 0x04: // block, loop, if: a block type
		r.blockType()
	case op == 0x0c, op == 0x0d, op == 0x12, // br, br_if, return_call
		op >= 0x20 && op <= 0x26,           // local.*, global.*, table.get/set
		op == 0xd2, op == 0xd5, op == 0xd6: // ref.func, br_on_null, br_on_non_null
		r.u32()
	case op == 0x0e: // br_table
		for n := r.count("br_table labels"); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == opCall, op == opCallRef, op == 0x15: // call, call_ref, return_call_ref
		idx = r.u32()
	case op == opCallIndirect, op == 0x13: // call_indirect, return_call_indirect
		idx = r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for n := r.count("select types"); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.sleb(5)
	case op == 0x42:
		r.sleb(10)
	case op == 0x43:
		r.skip(4, "f32.const")
	case op == 0x44:
		r.skip(8, "f64.const")
	case op == 0xd0: // ref.null: a heap type
		r.sleb(5)
	case op == 0xfc:
		r.prefixFC()
	case op == 0xfd:
		r.prefixFD()
	case op == 0xfe:
		r.prefixFE()
	default:
		r.fail("unknown instruction 0x%02x at offset %d", op, at)
	}
	return op, idx
}

// blockType steps over a block type: empty, a value type, or a type index
// (a positive s33).
func (r *reader) blockType() {
	if r.i < len(r.b) && (r.b[r.i] == blockEmpty || r.b[r.i] >= 0x6f && r.b[r.i] <= 0x7f) {
		r.i++
		return
	}
	if r.i < len(r.b) && (r.b[r.i] == 0x63 || r.b[r.i] == 0x64) {
		r.valType()
		return
	}
	r.sleb(5)
}

// memarg steps over an alignment and an offset; bit 6 of the alignment
// says a memory index follows (multi-memory).
func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.u32()
}

// prefixFC steps over the saturating truncations and the bulk memory and
// table instructions.
func (r *reader) prefixFC() {
	at := r.i
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8: // memory.init data mem
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	case sub == 10, sub == 12, sub == 14: // memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	default:
		r.fail("unknown instruction 0xfc %d at offset %d", sub, at)
	}
}

// prefixFD steps over a SIMD instruction.
func (r *reader) prefixFD() {
	at := r.i
	switch sub := r.u32(); {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.skip(16, "v128 immediate")
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 275:
	default:
		r.fail("unknown instruction 0xfd %d at offset %d", sub, at)
	}
}

// prefixFE steps over an atomic instruction.
func (r *reader) prefixFE() {
	at := r.i
	switch sub := r.u32(); {
	case sub == 3: // atomic.fence
		r.byte()
	case sub <= 0x4e:
		r.memarg()
	default:
		r.fail("unknown instruction 0xfe %d at offset %d", sub, at)
	}
}
