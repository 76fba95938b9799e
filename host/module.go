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

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/internal/wasmbin"
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
// per function, by validateEntry). guard is the name a trap's innermost
// frame has when the guest's calls nested past Config.MaxCallStack ("" when
// nothing in the module can recurse).
func (h *Host) compile(ctx context.Context, wasm []byte) (mod engine.Module, guard string, err error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		return nil, "", fmt.Errorf("%w: the bytes are not WebAssembly (no \\0asm header); give a .wasm file built for wasip1/wasm32-wasi", ErrInvalidModule)
	}
	// Malformed bytes never reach the engine: its decoder may trust counts
	// that the bytes cannot hold (wazero allocates for them: a 22-byte
	// module declaring 2^31 imports ran the process out of memory).
	d, err := wasmbin.Read(wasm)
	if err != nil {
		return nil, "", fmt.Errorf("%w: compile: malformed module: %v", ErrInvalidModule, err)
	}
	if err := h.checkDeclared(d); err != nil {
		return nil, "", err
	}
	// The module keeps its identity: it is stored, hashed and replayed as
	// deployed; only the engine sees the rewritten bytes (table maxima
	// capped to Config.MaxTableElements, calls that can recurse counted
	// against Config.MaxCallStack, custom sections but "name" dropped),
	// the same ones for the same module on every compile.
	wasm, depth, err := d.Rewrite(wasm, wasmbin.RewriteLimits{TableElements: h.cfg.MaxTableElements, CallStack: h.cfg.MaxCallStack})
	if err != nil {
		return nil, "", fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if depth.Counted > 0 {
		guard = fmt.Sprintf("$%d", depth.Guard)
	}
	mod, err = h.engine.Compile(ctx, wasm)
	if err != nil {
		return nil, "", fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
	}
	if err := h.validate(mod); err != nil {
		mod.Close(ctx)
		return nil, "", err
	}
	return mod, guard, nil
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

// checkDeclared refuses a module whose memories or tables need more than the
// host's limits allow at instantiation: a few bytes of a module declare
// gigabytes of them, so they are checked before the engine compiles or
// instantiates anything.
func (h *Host) checkDeclared(d *wasmbin.Module) error {
	if len(d.OtherImports) > 0 {
		return fmt.Errorf("%w: it imports %s; the host offers only functions (%s and %s): define them in the module instead",
			ErrInvalidModule, strings.Join(d.OtherImports, ", "), abi.Module, wasiModule)
	}
	if len(d.Memories) > 1 {
		return fmt.Errorf("%w: it defines %d memories; a guest has one (multiple memories are not part of Wasm 2.0)", ErrInvalidModule, len(d.Memories))
	}
	if len(d.Memories) == 1 {
		limit := memoryLimitPages(h.cfg.MemoryLimit)
		if m := d.Memories[0]; m.Min > limit {
			return fmt.Errorf("%w: its memory starts at %d pages (%s), above the host's memory limit of %d pages (%s, Config.MemoryLimit): lower the module's initial memory or raise the limit",
				ErrInvalidModule, m.Min, byteSize(uint64(m.Min)*65536), limit, byteSize(uint64(limit)*65536))
		}
	}
	var total uint64
	for _, t := range d.Tables {
		total += uint64(t.Min)
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
