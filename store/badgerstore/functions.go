package badgerstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// PutModule stores wasm under hash, its sha256 in hex. Storing a module again
// is a no-op. Modules of several MB are fine: Badger keeps values over 1 MB
// in its value log, out of the LSM tree.
func (d *DB) PutModule(ctx context.Context, hash string, wasm []byte) error {
	if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != hash {
		return fmt.Errorf("put module %q: %w: not the sha256 of the bytes", hash, store.ErrInvalid)
	}
	k := key(kindModule, hash)
	err := d.do(ctx, func(t *tx) error {
		ok, err := t.has(k)
		if err == nil && !ok {
			t.set(k, wasm)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("put module %q: %w", hash, err)
	}
	return nil
}

// GetModule returns a module's bytes. It reads Badger directly, without the
// committer: modules never change.
func (d *DB) GetModule(ctx context.Context, hash string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var wasm []byte
	err := d.view(func(txn *badger.Txn) error {
		item, err := txn.Get(key(kindModule, hash))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		wasm, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get module %q: %w", hash, err)
	}
	return wasm, nil
}

// PutFunction binds name to a stored module as a new version (the first is 1);
// earlier versions are kept. It fails with ErrNotFound when the module is not
// stored.
func (d *DB) PutFunction(ctx context.Context, name, module, entry string) (f store.Function, err error) {
	if name == "" {
		return store.Function{}, fmt.Errorf("put function: %w: empty name", store.ErrInvalid)
	}
	err = d.do(ctx, func(t *tx) error {
		ok, err := t.has(key(kindModule, module))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("module %q: %w", module, store.ErrNotFound)
		}
		latest, ok, err := t.getFunction(name)
		if err != nil {
			return err
		}
		if !ok {
			// Deleted names keep their versions: continue after the last one
			// rather than overwrite it.
			if latest.Version, err = t.lastVersion(name); err != nil {
				return err
			}
		}
		f = store.Function{Name: name, Version: latest.Version + 1, Module: module, Entry: entry, CreatedOn: t.now}
		v := encodeFunction(&f)
		t.set(versionKey(name, f.Version), v)
		t.set(key(kindFunction, name), v)
		return nil
	})
	if err != nil {
		return store.Function{}, fmt.Errorf("put function %q: %w", name, err)
	}
	return f, nil
}

func (t *tx) getFunction(name string) (f store.Function, ok bool, err error) {
	ok, err = t.get(key(kindFunction, name), func(v []byte) (err error) {
		f, err = decodeFunction(name, v)
		return err
	})
	return f, ok, err
}

// GetFunction returns the latest version of a function.
func (d *DB) GetFunction(ctx context.Context, name string) (f store.Function, err error) {
	err = d.do(ctx, func(t *tx) error {
		latest, ok, err := t.getFunction(name)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		f = latest
		return err
	})
	if err != nil {
		return store.Function{}, fmt.Errorf("get function %q: %w", name, err)
	}
	return f, nil
}

// ListFunctions returns the latest version of every function, by name.
func (d *DB) ListFunctions(ctx context.Context) (fs []store.Function, err error) {
	err = d.do(ctx, func(t *tx) error {
		fs = nil
		return t.scan([]byte{kindFunction}, nil, func(item *badger.Item) (bool, error) {
			name := string(item.Key()[1:])
			err := item.Value(func(v []byte) error {
				f, err := decodeFunction(name, v)
				fs = append(fs, f)
				return err
			})
			return err == nil, err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return fs, nil
}

// lastVersion is the last version ever stored for name, 0 when none.
func (t *tx) lastVersion(name string) (last uint32, err error) {
	prefix := versionKey(name, 0)
	prefix = prefix[:len(prefix)-4]
	err = t.scan(prefix, nil, func(item *badger.Item) (bool, error) {
		k := item.Key()
		last = binary.BigEndian.Uint32(k[len(k)-4:])
		return true, nil
	})
	return last, err
}

// DeleteFunction unbinds name: GetFunction and ListFunctions no longer see it.
// Versions and modules are kept, since executions are pinned to a module and
// replay needs it; modules are never deleted.
func (d *DB) DeleteFunction(ctx context.Context, name string) error {
	err := d.do(ctx, func(t *tx) error {
		k := key(kindFunction, name)
		ok, err := t.has(k)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		if err == nil {
			t.del(k)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete function %q: %w", name, err)
	}
	return nil
}
