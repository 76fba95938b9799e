package wasmbin

import "sort"

// Limits of a rewrite: see Rewrite.
type RewriteLimits struct {
	// TableElements bounds the elements all of the module's tables may
	// hold together; the caller must have checked that their minima fit.
	TableElements int
	// CallStack bounds, in bytes, the call stack the module's recursion
	// may take (see DepthLimit); 0 leaves calls alone.
	CallStack int
}

// Rewrite returns the bytes to compile: wasm (the bytes m was read from)
// without the custom sections to drop, with each table's maximum lowered so
// that all its tables together can never hold more than l.TableElements
// elements, and with every call that can recurse counted against
// l.CallStack; wasm itself when nothing changes. An error means a function
// body holds an instruction the rewrite does not know, so its calls cannot
// be counted.
//
// The engines let a table without a maximum grow to 2^32 elements, 32 GiB:
// with a maximum, table.grow past it returns -1, as the spec allows any
// grow to fail. The room to grow is handed out in table order; toolchains
// emit one table, which keeps min(max, TableElements).
//
// The rewritten bytes are a function of wasm and l alone, so a module
// compiles to the same bytes every time.
func (m *Module) Rewrite(wasm []byte, l RewriteLimits) ([]byte, DepthLimit, error) {
	var edits []edit
	for _, s := range m.drop {
		edits = append(edits, edit{span: s})
	}
	if tables, ok := m.capTables(l.TableElements); ok {
		edits = append(edits, edit{span: m.tableSec, with: tables})
	}
	var slots uint32
	if l.CallStack > 0 {
		slots = uint32(min(l.CallStack/8, 1<<30))
	}
	depth, d, err := m.limitDepth(wasm, slots)
	if err != nil {
		return nil, DepthLimit{}, err
	}
	return splice(wasm, append(edits, depth...)), d, nil
}

// StripCustom returns wasm without the custom sections Rewrite drops (all
// but the first well-formed "name" section), and with nothing else changed;
// wasm itself when there are none, or when Read refuses it.
func StripCustom(wasm []byte) []byte {
	m, err := Read(wasm)
	if err != nil {
		return wasm
	}
	var edits []edit
	for _, s := range m.drop {
		edits = append(edits, edit{span: s})
	}
	return splice(wasm, edits)
}

// edit replaces the bytes of span, [start, end), with with; an empty span
// inserts.
type edit struct {
	span [2]int
	with []byte
}

// splice returns wasm with edits made; wasm itself without any. The spans
// do not overlap.
func splice(wasm []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return wasm
	}
	sort.Slice(edits, func(i, j int) bool {
		a, b := edits[i].span, edits[j].span
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	out := make([]byte, 0, len(wasm)+16)
	at := 0
	for _, e := range edits {
		out = append(append(out, wasm[at:e.span[0]]...), e.with...)
		at = e.span[1]
	}
	return append(out, wasm[at:]...)
}

// capTables returns the table section with each table's maximum lowered to
// fit limit (see Rewrite), and whether that changed anything.
func (m *Module) capTables(limit int) ([]byte, bool) {
	budget := uint64(limit)
	for _, t := range m.Tables {
		budget -= uint64(t.Min)
	}
	changed := false
	caps := make([]Limits, len(m.Tables))
	for i, t := range m.Tables {
		room := budget
		if t.HasMax && t.Max >= t.Min {
			room = min(room, uint64(t.Max-t.Min))
		}
		budget -= room
		caps[i] = Limits{Min: t.Min, Max: t.Min + uint32(room), HasMax: true}
		changed = changed || !t.HasMax || caps[i].Max != t.Max
	}
	if !changed {
		return nil, false
	}
	payload := uleb32(nil, uint32(len(caps)))
	for i, c := range caps {
		payload = append(uleb32(uleb32(append(append(payload, m.tables[i].head...), 1), c.Min), c.Max), m.tables[i].tail...)
	}
	return append(uleb32([]byte{4}, uint32(len(payload))), payload...), true
}

// uleb32 appends v as an unsigned LEB128.
func uleb32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
