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
