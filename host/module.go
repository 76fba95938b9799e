package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
)

// ErrInvalidModule is returned (wrapped, with the reason) for bytes that are
// not a usable Reprise guest.
var ErrInvalidModule = errors.New("invalid module")

const wasiModule = "wasi_snapshot_preview1"

func hashModule(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// compile compiles and validates wasm as a guest (entry points are checked
// per function, by validateEntry).
func (h *Host) compile(ctx context.Context, wasm []byte) (engine.Module, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, fmt.Errorf("%w: the bytes are not WebAssembly (no \\0asm header); give a .wasm file built for wasip1/wasm32-wasi", ErrInvalidModule)
	}
	// Malformed bytes never reach the engine: its decoder may trust counts
	// that the bytes cannot hold (wazero allocates for them: a 22-byte
	// module declaring 2^31 imports ran the process out of memory).
	d, err := readDeclared(wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: malformed module: %v", ErrInvalidModule, err)
	}
	if err := h.checkDeclared(d); err != nil {
		return nil, err
	}
	wasm = d.rewrite(wasm, h.cfg.MaxTableElements)
	mod, err := h.engine.Compile(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if err := h.validate(mod); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	return mod, nil
}

// validate checks what the ABI asks of a guest, so a bad module is refused at
// deploy time with a message that says what to fix.
func (h *Host) validate(mod engine.Module) error {
	var wrongVersion, unknown []string
	for _, imp := range mod.Imports() {
		switch {
		case imp.Module == abi.Module:
			if !h.importNames[imp.Name] {
				unknown = append(unknown, imp.Module+"."+imp.Name)
			}
		case imp.Module == wasiModule, h.extraModules[imp.Module]:
		case strings.HasPrefix(imp.Module, abi.ModulePrefix):
			wrongVersion = append(wrongVersion, imp.Module+"."+imp.Name)
		default:
			unknown = append(unknown, imp.Module+"."+imp.Name)
		}
	}
	if len(wrongVersion) > 0 {
		return fmt.Errorf("%w: it imports %s, another ABI version; this host speaks ABI v%d (import module %q): rebuild it with an SDK for v%d",
			ErrInvalidModule, strings.Join(wrongVersion, ", "), abi.Version, abi.Module, abi.Version)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: it imports %s, which this host does not offer (only %s and %s): remove those imports",
			ErrInvalidModule, strings.Join(unknown, ", "), abi.Module, wasiModule)
	}
	if !mod.HasMemory() {
		return fmt.Errorf("%w: it does not export its memory as \"memory\"", ErrInvalidModule)
	}
	return nil
}

// validateEntry checks that mod exports entry as a () -> () function.
func validateEntry(mod engine.Module, entry string) error {
	ft, ok := mod.Exports()[entry]
	if !ok {
		return fmt.Errorf("%w: it does not export the entry function %q; export it (Go SDK: reprise.Handle in init, build with -buildmode=c-shared)", ErrInvalidModule, entry)
	}
	if len(ft.Params) != 0 || len(ft.Results) != 0 {
		return fmt.Errorf("%w: entry %q must have type () -> (), it has %d params and %d results", ErrInvalidModule, entry, len(ft.Params), len(ft.Results))
	}
	return nil
}

// loadModule returns the compiled module for hash, compiling it from the
// store's bytes on first use (from the on-disk cache after a restart).
func (h *Host) loadModule(ctx context.Context, hash, entry string) (*module, error) {
	return h.module(ctx, hash, entry, func() ([]byte, error) { return h.store.GetModule(ctx, hash) })
}

// Memories and tables are what a module can make the host allocate per
// instance out of proportion to its size: a few bytes declare gigabytes. So
// they are read from the bytes and checked before the engine compiles or
// instantiates anything.
//
// Decoding is the other place: an engine's decoder may allocate for a count
// or length before it reads what it counts (wazero does, for every vector,
// every name, every data segment, element list, function type and local, and
// the entries of the "name" section). readDeclared walks every one of those
// the way wazero's decoder does and checks that each count or length fits in
// the bytes that follow it, so that what the engine allocates while decoding
// is in proportion to the module's size.

// declared is what a module declares about its memories and tables, and the
// custom sections to drop before it is compiled.
type declared struct {
	memories []wasmLimits // defined memories
	tables   []wasmLimits // defined tables
	// tableSec is the table section's span in the bytes: [start, end) from
	// its id byte to the end of its payload; zero when there is none.
	tableSec [2]int
	// drop are the spans of the custom sections removed before compiling.
	drop [][2]int
	// otherImports are imports of something other than a function
	// ("env.mem (memory)"): the host offers none.
	otherImports []string
}

// wasmLimits are the limits of a memory or table (pages or elements).
type wasmLimits struct {
	min, max uint32
	hasMax   bool
	// head and tail are a table's bytes before and after its limits (the
	// element type, and an initializer), kept when the table is rewritten.
	head, tail []byte
}

var importKinds = [...]string{"function", "table", "memory", "global", "tag"}

// readDeclared reads the sections of wasm (which starts with the \0asm
// header): the imports, tables and memories it declares, the counts and
// lengths of every section the engine decodes, and its custom sections. It
// skips instructions, so it is cheap on a large module. An error means the
// bytes are malformed or declare more than an engine should be asked to
// allocate.
//
// Custom sections other than "name" are dropped: the engines need none of
// them (wazero would keep a copy of any DWARF section and parse it for trap
// line numbers; Wasmtime ignores them by default), so they are bytes a guest
// could make the host hold or parse for nothing. The "name" section is what
// makes a trap's stack trace name functions rather than print indexes, so it
// is kept when it is well formed, and dropped (not refused: it is debug
// information, and Wasmtime ignores a malformed one) when it is not.
func readDeclared(wasm []byte) (*declared, error) {
	d := &declared{}
	r := wasmReader{b: wasm, i: 8}
	hasNames := false
	for r.i < len(r.b) && r.err == nil {
		start := r.i
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			return nil, fmt.Errorf("section at offset %d runs past the end", start)
		}
		end := r.i + int(size)
		sec := wasmReader{b: r.b[:end], i: r.i}
		if vectorSections[id] {
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
			if nr := sec; nr.name() == "name" && nr.err == nil && !hasNames && validNames(nr) {
				hasNames = true
			} else {
				d.drop = append(d.drop, [2]int{start, end})
			}
			sec.i = end
		case 1:
			sec.types()
		case 2:
			sec.imports(d)
		case 4:
			d.tableSec = [2]int{start, end}
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				d.tables = append(d.tables, sec.table())
			}
		case 5:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				d.memories = append(d.memories, sec.limits())
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
	return d, r.err
}

// vectorSections are the sections that are a vector of entries.
var vectorSections = map[byte]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 9: true, 10: true, 11: true, 13: true}

// maxLocals bounds the locals of one function, as Wasmtime and V8 do: a few
// bytes declare 2^32 of them, and an engine allocates for them (wazero does).
const maxLocals = 50_000

// count reads the length of a vector whose entries take at least a byte
// each: it must fit in what is left of the section.
func (r *wasmReader) count(what string) uint32 {
	at := r.i
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("%s at offset %d: %d of them declared with %d bytes left", what, at, n, len(r.b)-r.i)
		return 0
	}
	return n
}

// skip steps over n bytes, which must be there.
func (r *wasmReader) skip(n uint32, what string) {
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("%s at offset %d: %d bytes declared with %d left", what, r.i, n, len(r.b)-r.i)
		return
	}
	if r.err == nil {
		r.i += int(n)
	}
}

// sleb steps over a signed LEB128 of at most max bytes.
func (r *wasmReader) sleb(max int) {
	for range max {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("integer representation too long at offset %d", r.i-1)
}

// valType reads a value type: one byte, or a reference type prefix and its
// heap type.
func (r *wasmReader) valType() {
	if b := r.byte(); b == 0x63 || b == 0x64 { // (ref null ht), (ref ht)
		r.sleb(5) // s33
	}
}

// types reads the type section: function types, alone or in recursion
// groups, whose parameter and result counts an engine allocates for.
func (r *wasmReader) types() {
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
}

// table reads a table type, with an initializer when it has one.
func (r *wasmReader) table() wasmLimits {
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
		return wasmLimits{}
	}
	head := r.b[start:r.i]
	l := r.limits()
	l.head = head
	if init {
		at := r.i
		r.constExpr()
		l.tail = r.b[at:r.i]
	}
	return l
}

// exports reads the export section, whose names an engine allocates for.
func (r *wasmReader) exports() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		if kind := r.byte(); r.err == nil && kind > 4 {
			r.fail("export of unknown kind %d at offset %d", kind, r.i-1)
			return
		}
		r.u32()
	}
}

// constExpr steps over a constant expression as wazero reads one.
func (r *wasmReader) constExpr() {
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

// elements reads the element section: every segment's list of function
// indexes or expressions, which an engine allocates for by their count.
func (r *wasmReader) elements() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		at := r.i
		prefix := r.u32()
		if r.err == nil && prefix > 7 {
			r.fail("element segment at offset %d has prefix %d", at, prefix)
			return
		}
		if prefix == 2 || prefix == 6 {
			r.u32() // table index
		}
		if prefix&1 == 0 { // active: an offset
			r.constExpr()
		}
		if prefix&3 != 0 { // an element kind or type
			if prefix&4 == 0 {
				r.byte()
			} else {
				r.valType()
			}
		}
		if prefix&4 == 0 {
			for k := r.count("element function indexes"); k > 0 && r.err == nil; k-- {
				r.u32()
			}
		} else {
			for k := r.count("element expressions"); k > 0 && r.err == nil; k-- {
				r.constExpr()
			}
		}
	}
}

// data reads the data section: each segment's bytes must be there.
func (r *wasmReader) data() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		at := r.i
		switch prefix := r.u32(); {
		case r.err != nil:
		case prefix == 0:
			r.constExpr()
		case prefix == 1:
		case prefix == 2:
			r.u32()
			r.constExpr()
		default:
			r.fail("data segment at offset %d has prefix %d", at, prefix)
		}
		r.skip(r.u32(), "data segment")
	}
}

// validNames reports whether the rest of r is a well-formed "name" section
// whose every count and length fits in its bytes: the module, function and
// local names, each subsection exactly as long as it says.
func validNames(r wasmReader) bool {
	for r.i < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			return false
		}
		end := r.i + int(size)
		sub := wasmReader{b: r.b[:end], i: r.i}
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
func (r *wasmReader) utf8() {
	if s := r.name(); r.err == nil && !utf8.ValidString(s) {
		r.fail("name at offset %d is not UTF-8", r.i)
	}
}

// locals checks the local declarations of every function body.
func (r *wasmReader) locals() {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			r.fail("function body runs past the end at offset %d", r.i)
			return
		}
		end := r.i + int(size)
		body := wasmReader{b: r.b[:end], i: r.i}
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
}

func (r *wasmReader) imports(d *declared) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		mod, name := r.name(), r.name()
		kind := r.byte()
		switch kind {
		case 0: // function: type index
			r.u32()
			continue
		case 1: // table: element type, limits
			r.valType()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: value type, mutability
			r.valType()
			r.byte()
		case 4: // tag (exception handling): attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail("import %s.%s of unknown kind %d", mod, name, kind)
			return
		}
		d.otherImports = append(d.otherImports, fmt.Sprintf("%s.%s (%s)", mod, name, importKinds[kind]))
	}
}

// wasmReader decodes the binary format; the first error sticks.
type wasmReader struct {
	b   []byte
	i   int
	err error
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *wasmReader) byte() byte {
	if r.err != nil || r.i >= len(r.b) {
		r.fail("unexpected end at offset %d", r.i)
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

// u32 reads an unsigned LEB128 of at most 5 bytes, as the format allows.
func (r *wasmReader) u32() uint32 {
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

func (r *wasmReader) name() string {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.i) {
		r.fail("name runs past the end at offset %d", r.i)
		return ""
	}
	r.i += int(n)
	return string(r.b[r.i-int(n) : r.i])
}

// limits reads the limits of a table or memory. Only the flags of 32-bit,
// unshared memories and tables are accepted: Wasm 2.0, which is what the
// ABI asks for (threads, memory64 and table64 are not).
func (r *wasmReader) limits() wasmLimits {
	var l wasmLimits
	switch flags := r.byte(); flags {
	case 0:
		l.min = r.u32()
	case 1:
		l.min, l.max, l.hasMax = r.u32(), r.u32(), true
	default:
		r.fail("limits flags 0x%02x at offset %d: only 32-bit unshared memories and tables are supported (Wasm 2.0, no threads or memory64)", flags, r.i-1)
	}
	return l
}

// checkDeclared refuses a module whose memories or tables need more than the
// host's limits allow at instantiation.
func (h *Host) checkDeclared(d *declared) error {
	if len(d.otherImports) > 0 {
		return fmt.Errorf("%w: it imports %s; the host offers only functions (%s and %s): define them in the module instead",
			ErrInvalidModule, strings.Join(d.otherImports, ", "), abi.Module, wasiModule)
	}
	if len(d.memories) > 1 {
		return fmt.Errorf("%w: it defines %d memories; a guest has one (multiple memories are not part of Wasm 2.0)", ErrInvalidModule, len(d.memories))
	}
	if len(d.memories) == 1 {
		limit := memoryLimitPages(h.cfg.MemoryLimit)
		if m := d.memories[0]; m.min > limit {
			return fmt.Errorf("%w: its memory starts at %d pages (%s), above the host's memory limit of %d pages (%s, Config.MemoryLimit): lower the module's initial memory or raise the limit",
				ErrInvalidModule, m.min, byteSize(uint64(m.min)*65536), limit, byteSize(uint64(limit)*65536))
		}
	}
	var total uint64
	for _, t := range d.tables {
		total += uint64(t.min)
	}
	if limit := uint64(h.cfg.MaxTableElements); total > limit {
		return fmt.Errorf("%w: its tables start with %d elements in all, above the host's limit of %d table elements (Config.MaxTableElements): declare smaller tables or raise the limit",
			ErrInvalidModule, total, limit)
	}
	return nil
}

// memoryLimitPages is Config.MemoryLimit in 64 KiB pages, as the engine is
// given it.
func memoryLimitPages(limit uint64) uint32 { return uint32(min(max(limit/65536, 1), 65536)) }

func byteSize(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// rewrite returns the bytes to compile: wasm without the custom sections to
// drop, and with each table's maximum lowered so that all its tables
// together can never hold more than limit elements; wasm itself when nothing
// changes. The engines let a table without a maximum grow to 2^32 elements,
// 32 GiB: with a maximum, table.grow past it returns -1, as the spec allows
// any grow to fail. The room to grow is handed out in table order;
// toolchains emit one table, which keeps min(max, limit). checkDeclared must
// have passed: the minima fit in limit.
//
// The module keeps its identity: it is stored, hashed and replayed as
// deployed; only the engine sees the rewritten bytes, the same ones for the
// same module on every compile.
func (d *declared) rewrite(wasm []byte, limit int) []byte {
	type edit struct {
		span [2]int
		with []byte
	}
	var edits []edit
	for _, s := range d.drop {
		edits = append(edits, edit{span: s})
	}
	if tables, ok := d.capTables(limit); ok {
		edits = append(edits, edit{span: d.tableSec, with: tables})
	}
	if len(edits) == 0 {
		return wasm
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].span[0] < edits[j].span[0] })
	out := make([]byte, 0, len(wasm)+16)
	at := 0
	for _, e := range edits {
		out = append(append(out, wasm[at:e.span[0]]...), e.with...)
		at = e.span[1]
	}
	return append(out, wasm[at:]...)
}

// capTables returns the table section with each table's maximum lowered to
// fit limit (see rewrite), and whether that changed anything.
func (d *declared) capTables(limit int) ([]byte, bool) {
	budget := uint64(limit)
	for _, t := range d.tables {
		budget -= uint64(t.min)
	}
	changed := false
	caps := make([]wasmLimits, len(d.tables))
	for i, t := range d.tables {
		room := budget
		if t.hasMax && t.max >= t.min {
			room = min(room, uint64(t.max-t.min))
		}
		budget -= room
		caps[i] = wasmLimits{min: t.min, max: t.min + uint32(room), hasMax: true, head: t.head, tail: t.tail}
		changed = changed || !t.hasMax || caps[i].max != t.max
	}
	if !changed {
		return nil, false
	}
	payload := uleb32(nil, uint32(len(caps)))
	for _, c := range caps {
		payload = append(uleb32(uleb32(append(append(payload, c.head...), 1), c.min), c.max), c.tail...)
	}
	return append(uleb32([]byte{4}, uint32(len(payload))), payload...), true
}

func uleb32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
