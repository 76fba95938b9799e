package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// A batch's transaction is committed early and a new one begun when it would
// grow past these figures: under Badger's own limits (15% of memTableSize,
// 2.4 MiB and ~26,000 entries; values from valueThreshold on count only by
// their pointer), so ErrTxnTooBig is the exception, not the rule.
const (
	maxTxnWrites = 10000
	maxTxnBytes  = 2 << 20
)

// write is one buffered Set (del false) or Delete. A new write is of a key
// the operation knows did not exist before it: deleting it again needs no
// tombstone, so the delete is dropped.
type write struct {
	key, val []byte
	del      bool
	new      bool
}

// tx is one operation's view of the batch: reads see the committed state, the
// batch's earlier operations and this operation's own writes; writes are
// buffered here and reach Badger only when the operation succeeds.
type tx struct {
	log    *slog.Logger
	txn    *badger.Txn
	now    int64 // store clock, Unix ms, fixed for the operation
	writes []write
	index  map[string]int // key → position in writes
	bytes  int
	err    error    // an invalid write; fails the operation
	delta  counters // what the operation changes of the counters
	floors *floors  // the DB's, owned by the committer goroutine
	// frees marks an operation that deletes to free space (a purge): the
	// space check lets it through even at a limit.
	frees bool
	// places are where reclaiming each owner's tasks got to in this
	// operation; they become floors.owners if it succeeds.
	places map[string][]byte
}

func (t *tx) reset(txn *badger.Txn, now int64) {
	clear(t.writes) // drop references for the GC
	t.writes = t.writes[:0]
	clear(t.index)
	clear(t.places)
	t.txn, t.now, t.bytes, t.err, t.delta, t.frees = txn, now, 0, nil, counters{}, false
}

// get calls fn with the value of key, if present. The value is valid only
// during fn.
func (t *tx) get(key []byte, fn func(val []byte) error) (bool, error) {
	if i, ok := t.index[string(key)]; ok {
		w := t.writes[i]
		if w.del {
			return false, nil
		}
		if fn == nil {
			return true, nil
		}
		return true, fn(w.val)
	}
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	if fn == nil {
		return true, nil
	}
	if err := item.Value(fn); err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	return true, nil
}

// succeeded keeps what the operation, now applied, learnt of the indexes.
func (t *tx) succeeded() {
	for owner, place := range t.places {
		t.floors.owners[owner] = place
	}
}

func (t *tx) has(key []byte) (bool, error) { return t.get(key, nil) }

func (t *tx) set(key, val []byte) { t.put(write{key: key, val: val}) }
func (t *tx) del(key []byte)      { t.put(write{key: key, del: true}) }

// setNew sets a key that the caller knows is absent from the store (see write).
func (t *tx) setNew(key, val []byte) { t.put(write{key: key, val: val, new: true}) }

func (t *tx) put(w write) {
	if len(w.key) > maxKey {
		if t.err == nil {
			t.err = fmt.Errorf("%w: key of %d bytes is too long (max %d)", store.ErrInvalid, len(w.key), maxKey)
		}
		return
	}
	t.bytes += len(w.key) + len(w.val)
	if !w.del {
		t.floors.lower(w.key)
	}
	if i, ok := t.index[string(w.key)]; ok {
		// A key still absent from the store stays so: its delete, and
		// then a set of it again, carry that on.
		w.new = t.writes[i].new
		t.writes[i] = w
		return
	}
	t.index[string(w.key)] = len(t.writes)
	t.writes = append(t.writes, w)
}

// scan calls fn for each key with prefix, from start (or the prefix) on, in
// order, until fn returns false. The item is valid only during fn.
//
// Scans see the batch's committed and earlier writes but not this operation's
// buffered ones, so an operation must scan before it writes; doing otherwise
// is a bug this reports.
func (t *tx) scan(prefix, start []byte, fn func(item *badger.Item) (more bool, err error)) error {
	if len(t.writes) > 0 {
		return errScanAfterWrite
	}
	return t.scanCommitted(prefix, start, fn)
}

// scanCommitted is scan without its check: it too sees none of this
// operation's buffered writes, so it is only for a range of keys the
// operation has not written (a purge scans the children and journal of one
// promise after writing the deletes of another's).
func (t *tx) scanCommitted(prefix, start []byte, fn func(item *badger.Item) (more bool, err error)) error {
	return t.iterate(badger.IteratorOptions{Prefix: prefix}, start, func(item *badger.Item) ([]byte, bool, error) {
		more, err := fn(item)
		return nil, more, err
	})
}

// scanVersions is scan over every version of every key, tombstones
// included (item.IsDeletedOrExpired), newest version of a key first: for
// a scan that bounds what it reads, tombstones and all (see walker). fn
// may return a key to seek to, instead of going on to the next.
func (t *tx) scanVersions(prefix, start []byte, fn func(item *badger.Item) (seek []byte, more bool, err error)) error {
	if len(t.writes) > 0 {
		return errScanAfterWrite
	}
	return t.iterate(badger.IteratorOptions{Prefix: prefix, AllVersions: true}, start, fn)
}

var errScanAfterWrite = errors.New("internal error: scan after write in one store operation")

// iterate runs fn over the keys of opts.Prefix from start, seeking where fn
// says to.
func (t *tx) iterate(opts badger.IteratorOptions, start []byte, fn func(item *badger.Item) (seek []byte, more bool, err error)) error {
	prefix := opts.Prefix
	it := t.txn.NewIterator(opts)
	defer it.Close()
	if start == nil || bytes.Compare(start, prefix) < 0 {
		start = prefix
	}
	for it.Seek(start); it.ValidForPrefix(prefix); {
		seek, more, err := fn(it.Item())
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if seek != nil {
			it.Seek(seek)
		} else {
			it.Next()
		}
	}
	return nil
}

// batch owns the committer's Badger transaction.
type batch struct {
	db    *badger.DB
	stats *stats
	txn   *badger.Txn
	// applied are the writes in txn, in order, to rebuild it should applying
	// an operation fail halfway.
	applied []write
	bytes   int
	delta   counters // of the operations in txn, written with it
}

func (b *batch) begin() { b.txn = b.db.NewTransaction(true) }

// apply moves a successful operation's writes into the transaction. opErr
// fails only this operation; fatal means the batch's transaction could not be
// committed and the store can no longer be trusted.
func (b *batch) apply(t *tx) (opErr, fatal error) {
	t.floors.persist(t) // in the same transaction as the writes: see floors.go
	if len(b.applied) > 0 && (len(b.applied)+len(t.writes) > maxTxnWrites || b.bytes+t.bytes > maxTxnBytes) {
		if err := b.commit(); err != nil {
			return err, err
		}
	}
	if err := b.setAll(t.writes); err != nil {
		// The transaction now holds part of the operation: rebuild it without.
		if fatal := b.rebuild(); fatal != nil {
			return fatal, fatal
		}
		if !errors.Is(err, badger.ErrTxnTooBig) || len(b.applied) == 0 {
			return fmt.Errorf("write: %w", err), nil
		}
		// Too big together with the operations before it: commit those and
		// try it alone.
		if fatal := b.commit(); fatal != nil {
			return fatal, fatal
		}
		if err := b.setAll(t.writes); err != nil {
			if fatal := b.rebuild(); fatal != nil {
				return fatal, fatal
			}
			return fmt.Errorf("write: %w", err), nil
		}
	}
	b.applied = append(b.applied, t.writes...)
	b.bytes += t.bytes
	b.delta.add(&t.delta)
	t.floors.persisted()
	return nil, nil
}

func (b *batch) setAll(ws []write) error {
	for _, w := range ws {
		var err error
		switch {
		case w.del && w.new:
			// never written: nothing to delete
		case w.del:
			err = b.txn.Delete(w.key)
		default:
			err = b.txn.Set(w.key, w.val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rebuild replaces the transaction by one holding exactly b.applied.
func (b *batch) rebuild() error {
	b.txn.Discard()
	b.txn = b.db.NewTransaction(true)
	if err := b.setAll(b.applied); err != nil {
		return fmt.Errorf("rebuild transaction: %w", err)
	}
	return nil
}

// commit commits (and syncs) the current transaction and begins another.
func (b *batch) commit() error {
	err := b.finish()
	b.txn = b.db.NewTransaction(true)
	return err
}

// finish commits (and syncs) the current transaction, with the counters
// when its operations changed them.
func (b *batch) finish() error {
	defer b.forget()
	if len(b.applied) == 0 {
		b.txn.Discard() // nothing to write: no commit, no sync
		return nil
	}
	next := b.stats.counts
	if !b.delta.isZero() {
		next.add(&b.delta)
		if err := b.txn.Set(countersKey, encodeCounters(&next)); err != nil {
			b.txn.Discard()
			return fmt.Errorf("commit: write counters: %w", err)
		}
	}
	start := time.Now()
	if err := b.txn.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	b.stats.syncs.Observe(time.Since(start))
	if !b.delta.isZero() {
		b.stats.counts = next
		b.stats.pub.store(&next)
	}
	return nil
}

func (b *batch) discard() {
	b.txn.Discard()
	b.forget()
}

func (b *batch) forget() {
	clear(b.applied) // drop references for the GC
	b.applied, b.bytes, b.delta = b.applied[:0], 0, counters{}
}
