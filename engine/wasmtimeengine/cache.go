//go:build wasmtime

package wasmtimeengine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// cache keeps compiled modules on disk, one file per module named by the
// SHA-256 of its bytes, so a restart loads code instead of compiling it.
//
// Wasmtime has a cache of its own, but it updates usage statistics and
// cleans up from a background thread that outlives the engine; this one only
// writes while Compile runs. A file is Wasmtime's serialized module, which
// records Wasmtime's version and the engine's settings: one that does not
// match this engine fails to load and is compiled and written again.
type cache struct{ dir string }

func newCache(dir string) (*cache, error) {
	dir = filepath.Join(dir, "wasmtime")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("compilation cache in %s: %w", dir, err)
	}
	return &cache{dir: dir}, nil
}

func (c *cache) path(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+".cwasm")
}

// load returns the module compiled before from wasm, or nil.
func (c *cache) load(e *wasmtime.Engine, wasm []byte) *wasmtime.Module {
	// The file is read, not mapped (NewModuleDeserializeFile): a mapped
	// file that anything truncates in place (cp over it) would crash the
	// process with SIGBUS on the next page it touches.
	b, err := os.ReadFile(c.path(wasm))
	if err != nil {
		return nil
	}
	m, err := wasmtime.NewModuleDeserialize(e, b)
	if err != nil {
		return nil // from another Wasmtime or other settings: compile instead
	}
	return m
}

// store writes m, compiled from wasm. It is best effort: a cache that cannot
// be written costs a compilation on the next start, nothing else.
func (c *cache) store(m *wasmtime.Module, wasm []byte) {
	b, err := m.Serialize()
	if err == nil {
		writeFileAtomic(c.path(wasm), b)
	}
}

// writeFileAtomic writes b to path through a rename, so a process loading
// the file at the same time (or after a crash) never sees half of it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
