package host_test

// Hand-assembled modules: the smallest real guests, for checks on what the
// host accepts and for measuring the host without a guest language runtime.

// Function types every raw module declares.
const (
	typeI32I32toI32 = '0' // (i32, i32) -> i32
	typeVoid        = '1' // () -> ()
	typeToI64       = '2' // () -> i64
)

// rawModule assembles a module importing the given (module, name, type)
// functions, exporting a 2-page memory and one function named export of type
// () -> (), with one i32 local, whose body is code (without the final end).
func rawModule(imports [][3]string, export string, code []byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = section(b, 1, []byte{3, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0, 0x60, 0, 1, 0x7e})
	imp := []byte{byte(len(imports))}
	for _, i := range imports {
		imp = append(imp, byte(len(i[0])))
		imp = append(imp, i[0]...)
		imp = append(imp, byte(len(i[1])))
		imp = append(imp, i[1]...)
		imp = append(imp, 0, i[2][0]-'0')
	}
	b = section(b, 2, imp)
	b = section(b, 3, []byte{1, 1})    // one function of type () -> ()
	b = section(b, 5, []byte{1, 0, 2}) // memory: min 2 pages
	exp := []byte{2, 6}
	exp = append(exp, "memory"...)
	exp = append(exp, 2, 0, byte(len(export)))
	exp = append(exp, export...)
	exp = append(exp, 0, byte(len(imports))) // the defined function follows the imports
	b = section(b, 7, exp)
	body := append([]byte{1, 1, 0x7f}, code...) // one local i32
	body = append(body, 0x0b)
	code10 := append([]byte{1}, uleb(nil, uint32(len(body)))...)
	b = section(b, 10, append(code10, body...))
	return b
}

func section(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = uleb(b, uint32(len(payload)))
	return append(b, payload...)
}

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func i32const(v uint32) []byte { return append([]byte{0x41}, sleb(v)...) }

// sleb encodes a non-negative value as signed LEB128.
func sleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// rawEcho resolves with its input: resolve(1024, input(1024, 65536)).
func rawEcho() []byte {
	code := append(i32const(1024), i32const(1024)...)
	code = append(code, i32const(65536)...)
	code = append(code, 0x10, 0, 0x10, 1, 0x1a) // call input, call resolve, drop
	return rawModule([][3]string{{"reprise_v1", "input", "0"}, {"reprise_v1", "resolve", "0"}}, "run", code)
}

// rawLoop calls import (module reprise_v1, of type typ) n times.
func rawLoop(name string, typ byte, n uint32) []byte {
	var call []byte
	switch typ {
	case typeI32I32toI32:
		call = append(append(i32const(0), i32const(0)...), 0x10, 0, 0x1a)
	case typeToI64:
		call = []byte{0x10, 0, 0x1a}
	}
	code := append(i32const(n), 0x21, 0) // local.set 0
	code = append(code, 0x03, 0x40)      // loop
	code = append(code, call...)
	code = append(code, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0) // local.get 0; i32.const 1; i32.sub; local.tee 0; br_if 0
	code = append(code, 0x0b)                                     // end loop
	return rawModule([][3]string{{"reprise_v1", name, string(typ)}}, "run", code)
}
