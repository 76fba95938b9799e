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
	"sync"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
)

// ErrInvalidModule is returned (wrapped, with the reason) for bytes that are
// not a usable Reprise guest.
var ErrInvalidModule = errors.New("invalid module")

const wasiModule = "wasi_snapshot_preview1"

// module is a compiled guest with a pool of fresh instances.
type module struct {
	hash  string
	mod   engine.Module
	ready chan *instance // fresh instances, bound to no execution yet

	fillMu  sync.Mutex
	filling bool
	closed  bool
}

// instance is one instance and the sandbox its WASI sees.
type instance struct {
	inst engine.Instance
	sys  *sandbox
}

func hashModule(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// compile compiles and validates wasm as a guest (entry points are checked
// per function, by validateEntry).
func (h *Host) compile(ctx context.Context, hash string, wasm []byte) (*module, error) {
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
	wasm = d.capTables(wasm, h.cfg.MaxTableElements)
	mod, err := h.engine.Compile(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if err := h.validate(mod); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	n := max(h.cfg.ReadyInstances, 0)
	return &module{hash: hash, mod: mod, ready: make(chan *instance, n)}, nil
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
	return h.compiled(ctx, hash, entry, func() ([]byte, error) { return h.store.GetModule(ctx, hash) })
}

// moduleSlot holds one module while it compiles and after.
type moduleSlot struct {
	ready chan struct{} // closed when m or err is set
	m     *module
	err   error
}

// compiled returns module hash, compiling it once however many callers ask at
// the same time. wazero shares compiled code between compilations of the same
// bytes, so a duplicate must never be compiled and closed: that would free
// code the kept copy still runs.
func (h *Host) compiled(ctx context.Context, hash, entry string, wasm func() ([]byte, error)) (*module, error) {
	h.modMu.Lock()
	if h.modules == nil {
		h.modMu.Unlock()
		return nil, ErrClosed
	}
	slot, ok := h.modules[hash]
	if !ok {
		slot = &moduleSlot{ready: make(chan struct{})}
		h.modules[hash] = slot
	}
	h.modMu.Unlock()
	if ok {
		select {
		case <-slot.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if slot.err != nil {
			return nil, slot.err
		}
		return slot.m, validateEntry(slot.m.mod, entry)
	}
	// The compile is shared: it runs on the host's context, not this
	// caller's, and checks nothing caller-specific.
	b, err := wasm()
	if err == nil {
		slot.m, err = h.compile(h.ctx, hash, b)
	} else {
		err = fmt.Errorf("module %s: %w", hash, err)
	}
	slot.err = err
	close(slot.ready)
	if err != nil {
		h.modMu.Lock()
		if h.modules != nil && h.modules[hash] == slot {
			delete(h.modules, hash) // let a later call try again
		}
		h.modMu.Unlock()
		return nil, err
	}
	return slot.m, validateEntry(slot.m.mod, entry)
}

// instantiate makes a fresh instance; its guest runtime initializes with the
// fixed boot seed and clock, so that part is the same on every replay.
func (h *Host) instantiate(ctx context.Context, m *module) (*instance, error) {
	// A guest's _initialize gets the same budget as a step: one that never
	// returns must not hold a worker or a deploy for ever.
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StepTimeout)
	defer cancel()
	sys := newSandbox()
	inst, err := m.mod.Instantiate(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("instantiate module %s: %w", m.hash[:12], err)
	}
	return &instance{inst: inst, sys: sys}, nil
}

// get returns a fresh instance, from the pool when one is ready, and starts
// refilling the pool in the background.
func (h *Host) get(ctx context.Context, m *module) (*instance, error) {
	var in *instance
	select {
	case in = <-m.ready:
	default:
	}
	h.refill(m)
	if in != nil {
		return in, nil
	}
	return h.instantiate(ctx, m)
}

func (h *Host) refill(m *module) {
	if cap(m.ready) == 0 {
		return
	}
	m.fillMu.Lock()
	if m.filling || m.closed {
		m.fillMu.Unlock()
		return
	}
	m.filling = true
	m.fillMu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { m.fillMu.Lock(); m.filling = false; m.fillMu.Unlock() }()
		for len(m.ready) < cap(m.ready) && h.ctx.Err() == nil {
			in, err := h.instantiate(h.ctx, m)
			if err != nil {
				if h.ctx.Err() == nil { // not just the host closing
					h.log.Warn("pre-instantiate failed", "module", m.hash, "err", err)
				}
				return
			}
			select {
			case m.ready <- in:
			default:
				in.inst.Close(h.ctx)
				return
			}
		}
	}()
}

func (m *module) close(ctx context.Context) {
	m.fillMu.Lock()
	m.closed = true
	m.fillMu.Unlock()
	for {
		select {
		case in := <-m.ready:
			in.inst.Close(ctx)
		default:
			m.mod.Close(ctx)
			return
		}
	}
}

// Memories and tables are what a module can make the host allocate per
// instance out of proportion to its size: a few bytes declare gigabytes. So
// they are read from the bytes and checked before the engine compiles or
// instantiates anything. Everything else a module declares (functions,
// globals, segments) costs in proportion to its bytes.

// declared is what a module declares about its memories and tables.
type declared struct {
	memories []wasmLimits // defined memories
	tables   []wasmLimits // defined tables
	// tableSec is the table section's span in the bytes: [start, end) from
	// its id byte to the end of its payload; zero when there is none.
	tableSec [2]int
	// otherImports are imports of something other than a function
	// ("env.mem (memory)"): the host offers none.
	otherImports []string
}

// wasmLimits are the limits of a memory or table (pages or elements).
type wasmLimits struct {
	min, max uint32
	hasMax   bool
	ref      byte // a table's element type
}

var importKinds = [...]string{"function", "table", "memory", "global", "tag"}

// readDeclared reads the import, table and memory sections of wasm (which
// starts with the \0asm header), checks the entry counts of every section and
// the locals of every function, and skips the rest, so it is cheap on a large
// module. An error means the bytes are malformed or declare more than an
// engine should be asked to allocate.
func readDeclared(wasm []byte) (*declared, error) {
	d := &declared{}
	r := wasmReader{b: wasm, i: 8}
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
		case 2:
			sec.imports(d)
		case 4:
			d.tableSec = [2]int{start, end}
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				ref := sec.byte()
				l := sec.limits()
				l.ref = ref
				d.tables = append(d.tables, l)
			}
		case 5:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				d.memories = append(d.memories, sec.limits())
			}
		case 10:
			sec.locals()
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
		for k := body.u32(); k > 0 && body.err == nil; k-- {
			sum += uint64(body.u32())
			body.byte() // the value type
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
			r.byte()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: value type, mutability
			r.byte()
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

// capTables returns wasm with each table's maximum lowered so that all its
// tables together can never hold more than limit elements; wasm itself when
// none needs it. The engines let a table without a maximum grow to 2^32
// elements, 32 GiB: with a maximum, table.grow past it returns -1, as the
// spec allows any grow to fail. The room to grow is handed out in table
// order; toolchains emit one table, which keeps min(max, limit).
// checkDeclared must have passed: the minima fit in limit.
func (d *declared) capTables(wasm []byte, limit int) []byte {
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
		caps[i] = wasmLimits{min: t.min, max: t.min + uint32(room), hasMax: true, ref: t.ref}
		changed = changed || !t.hasMax || caps[i].max != t.max
	}
	if !changed {
		return wasm
	}
	payload := uleb32(nil, uint32(len(caps)))
	for _, c := range caps {
		payload = uleb32(uleb32(append(payload, c.ref, 1), c.min), c.max)
	}
	start, end := d.tableSec[0], d.tableSec[1]
	out := make([]byte, 0, len(wasm)+16)
	out = append(out, wasm[:start]...)
	out = append(uleb32(append(out, 4), uint32(len(payload))), payload...)
	return append(out, wasm[end:]...)
}

func uleb32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
