package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// The schema version (key schemaKey) says which of the indexes added after
// a store's first release it holds, so that a store written by an earlier
// version gets them once, when it opens read-write, and never again.
//
// Version 1 adds the index of pending promises (kindPendingIdx): a search
// for pending promises alone, and so the recovery of HTTP requests at every
// start, reads the promises still pending instead of every promise the
// store has ever held. It is built at open, in one scan.
//
// Version 2 adds the retention indexes (purge.go): for a store that holds
// promises they are built by a backfill, a slice per Purge, which open
// only marks (backfillKey).
const (
	schemaPendingIndex = 1
	schemaRetention    = 2
	schemaVersion      = schemaRetention
)

var schemaKey = []byte{kindSchema}

// migrate brings the store's indexes up to schemaVersion. A crash part way
// leaves the version as it was, and the next open does the step again: each
// step only writes index entries, which are the same the second time.
func (d *DB) migrate() error {
	v, err := d.schema()
	if err != nil {
		return err
	}
	if v < schemaPendingIndex {
		n, err := d.indexPending()
		if err != nil {
			return fmt.Errorf("index pending promises: %w", err)
		}
		d.log.Info("indexed the pending promises of a store written by an earlier version", "pending", n)
	}
	if v < schemaVersion {
		err := d.bdb.Update(func(txn *badger.Txn) error {
			if v < schemaRetention && hasPromises(txn) {
				if err := txn.Set(backfillKey, nil); err != nil {
					return err
				}
				d.log.Info("the store predates retention: its settled promises will be indexed for purging, a slice per purge")
			}
			return txn.Set(schemaKey, binary.AppendUvarint([]byte{formatV1}, schemaVersion))
		})
		if err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	d.pendingIndexed.Store(true)
	return nil
}

// schema reads the store's schema version: 0 for a store without one, which
// is a new store or one written before versions were kept.
func (d *DB) schema() (uint64, error) {
	var v uint64
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) < 2 || b[0] != formatV1 {
				return fmt.Errorf("schema version %x: %w", b, errCorrupt)
			}
			n, k := binary.Uvarint(b[1:])
			if k <= 0 {
				return fmt.Errorf("schema version %x: %w", b, errCorrupt)
			}
			v = n
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v > schemaVersion {
		return 0, fmt.Errorf("the store's schema is version %d, newer than this version of reprise knows (%d): upgrade reprise to open it", v, schemaVersion)
	}
	return v, nil
}

// indexPending writes the pending-promise index entry of every promise
// stored pending: one scan of the promises, once per store.
func (d *DB) indexPending() (int, error) {
	wb := d.bdb.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err := d.bdb.View(func(txn *badger.Txn) error {
		prefix := []byte{kindPromise}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id := string(it.Item().Key()[1:])
			var pending bool
			err := it.Item().Value(func(v []byte) error {
				p, err := decodePromise(id, v)
				pending = err == nil && !p.State.Settled()
				return err
			})
			if err != nil {
				return err
			}
			if pending {
				if err := wb.Set(key(kindPendingIdx, id), nil); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, wb.Flush()
}

// hasPromises reports whether the store holds any promise.
func hasPromises(txn *badger.Txn) bool {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindPromise}})
	defer it.Close()
	it.Rewind()
	return it.Valid()
}
