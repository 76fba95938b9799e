package wasmbin

import "fmt"

// Module is what a module declares about its memories, tables and imports,
// and where in its bytes what Rewrite changes stands.
type Module struct {
	Memories []Limits // defined memories, in pages
	Tables   []Limits // defined tables, in elements
	// OtherImports are the imports of something other than a function, as
	// "env.mem (memory)".
	OtherImports []string

	// tables are the bytes of each table around its limits (see table).
	tables []tableBytes
	// tableSec is the table section's span in the bytes: [start, end) from
	// its id byte to the end of its payload; zero when there is none.
	tableSec [2]int
	// drop are the spans of the custom sections removed by Rewrite and
	// StripCustom.
	drop [][2]int
	// sections are the spans of the other sections, by id, as tableSec;
	// funcImports and globalImports count the imports of each kind, which
	// come first in their index spaces. The call-depth rewrite needs them.
	sections                   [14][2]int
	funcImports, globalImports uint32
	types                      uint32 // in the type section
}

// Read reads the sections of wasm: the imports, tables and memories it
// declares, the counts and lengths of every section an engine decodes, and
// its custom sections. wasm starts with the 8-byte preamble (magic and
// version), which Read skips without checking: the caller checks the magic
// with a message of its own, and the engine the version. An error means the
// bytes are malformed or declare more than an engine should be asked to
// allocate; its text says what and at which offset.
//
// Custom sections other than "name" are to be dropped: the engines need none
// of them (wazero would keep a copy of any DWARF section and parse it for
// trap line numbers; Wasmtime ignores them by default), so they are bytes a
// guest could make the host hold or parse for nothing. The "name" section
// is what makes a trap's stack trace name functions rather than print
// indexes, so it is kept when it is well formed, and dropped (not refused:
// it is debug information, and Wasmtime ignores a malformed one) when it is
// not.
func Read(wasm []byte) (*Module, error) {
	m := &Module{}
	r := reader{b: wasm, i: 8}
	hasNames := false
	for r.i < len(r.b) && r.err == nil {
		start := r.i
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			return nil, fmt.Errorf("section at offset %d runs past the end", start)
		}
		end := r.i + int(size)
		sec := reader{b: r.b[:end], i: r.i}
		if id != 0 && int(id) < len(m.sections) {
			m.sections[id] = [2]int{start, end}
		}
		if isVector(id) {
			// Every entry takes at least a byte. The engine may allocate
			// for the count before reading the entries (wazero does):
			// 2^32 of them must not reach it from a few bytes.
			peek := sec
			if n := peek.u32(); peek.err == nil && uint64(n) > uint64(size) {
				return nil, fmt.Errorf("section %d at offset %d declares %d entries in %d bytes", id, start, n, size)
			}
		}
		switch id {
		case 0:
			if !hasNames && isNames(sec) {
				hasNames = true
			} else {
				m.drop = append(m.drop, [2]int{start, end})
			}
			sec.i = end
		case 1:
			m.types = sec.types()
		case 2:
			sec.imports(m)
		case 3:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				sec.typeIndex(m.types)
			}
		case 4:
			m.tableSec = [2]int{start, end}
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				l, t := sec.table()
				m.Tables = append(m.Tables, l)
				m.tables = append(m.tables, t)
			}
		case 5:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				m.Memories = append(m.Memories, sec.limits())
			}
		case 7:
			sec.exports()
		case 9:
			sec.elements()
		case 10:
			sec.locals()
		case 11:
			sec.data()
		default:
			sec.i = end // their entries are fixed-size or read as they go
		}
		if sec.err == nil && sec.i != end {
			sec.fail("%d bytes left over at its end", end-sec.i)
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d at offset %d: %w", id, start, sec.err)
		}
		r.i = end
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// isVector reports whether section id is a vector of entries.
func isVector(id byte) bool {
	switch id {
	case 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13:
		return true
	}
	return false
}
