package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// Retention. A settled promise is purged, with everything that belongs to
// it, once its settlement is older than the retention period. Purge finds
// them through the done index, d/settledAt/id, which holds the settled
// promises that may go on their own: a scan of it from its floor (see
// floors) up to the cut-off reads what is due and the tombstones of the
// slice before, so a purge costs what it deletes, not the store's history.
//
// The one thing that must not go is a promise live work may read: an
// execution's replay reads every child promise it created (its invoke
// starts, sleeps, promises and http calls), so while an execution is
// pending its children stay. A child is recorded in its creator's list,
// k/len parent/id, when the creator's Commit creates it; its parent is
// found again from its id, which the host derives as "<parent>.<seq>"
// (for any other id an a/id → parent pointer says it). A promise that
// settles enters the done index unless its parent is pending: then it
// stays in the parent's list, which a long-running parent's many settled
// children never leave, so no purge pass walks them. When the parent is
// purged, its list is walked (a slice at a time): each settled child moves
// to the done index at the parent's time (it settled before its parent),
// each pending one just leaves the list, and enters the done index when it
// settles, with its own time. A child that settles after its parent
// settled leaves the list then, and takes its own time too.
//
// A guest can await only the promises of its own calls (handles, see the
// ABI), so a pending execution never reads a promise outside its list.
//
// Each Purge is one operation of the committer, bounded by its max: a
// promise whose children or journal do not fit in one is purged over
// several, its record last, so a crash between two leaves it whole but for
// what was already deleted, and the next Purge carries on. purgePlace
// remembers in memory where the last slice stopped, so the next one seeks
// past the tombstones it left.
//
// Stores written before the done index existed are indexed by a backfill:
// Open marks a store that holds promises but not the retention indexes
// (schema.go), and each
// Purge then indexes a slice of its promises (kindBackfill holds the id
// after which to go on) before it purges anything, so the backfill too is
// spread over as many operations as it takes, at most once per store.

// backfillBytes bounds the promise values one slice of the backfill reads.
const backfillBytes = 4 << 20

var backfillKey = []byte{kindBackfill}

// purgePlace is where the purge of promise id stopped: the first child key
// and the first journal key not yet deleted, or that all its children are.
type purgePlace struct {
	id             string
	childrenDone   bool
	child, journal []byte
}

// Purge deletes settled promises whose settlement is before `before` (Unix
// ms), with their executions, journals, callbacks and indexes, spending at
// most about max deletions and reads: see store.Store.
func (d *DB) Purge(ctx context.Context, before int64, max int) (purged int, more bool, err error) {
	if max <= 0 {
		return 0, false, fmt.Errorf("purge: %w: max %d must be positive", store.ErrInvalid, max)
	}
	err = d.do(ctx, func(t *tx) (err error) {
		t.frees = true
		purged, more, err = t.purge(before, max)
		return err
	})
	if err != nil {
		// Its deletes did not land, so where it stopped is not where the
		// next must start: forget it (in the committer, which owns it).
		d.do(context.WithoutCancel(ctx), func(t *tx) error {
			t.floors.purge = purgePlace{}
			return nil
		})
		return 0, false, fmt.Errorf("purge: %w", err)
	}
	return purged, more, nil
}

func (t *tx) purge(before int64, max int) (purged int, more bool, err error) {
	if pending, err := t.has(backfillKey); err != nil || pending {
		if err != nil {
			return 0, false, err
		}
		return 0, true, t.backfill(max)
	}
	if before == math.MinInt64 {
		return 0, false, nil
	}
	due, next, err := t.scanIndex(kindDone, before-1, max)
	if err != nil {
		return 0, false, err
	}
	more = next != 0 && next < before || len(due) == max
	budget := max
	for _, h := range due {
		if budget <= 0 {
			return purged, true, nil
		}
		done, used, moved, err := t.purgeOne(h, budget)
		if err != nil {
			return purged, false, err
		}
		budget -= used
		more = more || moved // children now due at h.at, before the cut-off
		if !done {
			return purged, true, nil
		}
		purged++
	}
	return purged, more, nil
}

// purgeOne purges the promise of done-index entry h within budget: its
// children first, then its journal, then its record. done is false when
// the budget ran out first (the next Purge goes on); used is what it
// spent; moved says it put settled children in the done index.
func (t *tx) purgeOne(h indexHit, budget int) (done bool, used int, moved bool, err error) {
	id := h.id
	place := &t.floors.purge
	if place.id != id {
		*place = purgePlace{id: id}
	}
	st, _, ok, err := t.promiseHead(id)
	switch {
	case err != nil:
		return false, 0, false, err
	case !ok:
		// Indexed twice (a backfill and a parent's purge may both index
		// a child): the first entry purged it.
		t.del(h.key)
		return true, 1, false, nil
	case !st.Settled():
		// Not a settled promise (a bug somewhere): drop the entry, keep the record.
		t.staleIndex(h)
		return true, 1, false, nil
	}
	// Children: settled ones go to the done index at this promise's time,
	// pending ones leave the list and index themselves when they settle.
	if !place.childrenDone {
		cp := childPrefix(id)
		complete, err := t.deleteSlice(cp, &place.child, budget, &used, func(k []byte, _ *badger.Item) error {
			child := string(k[len(cp):])
			cst, _, found, err := t.promiseHead(child)
			if err == nil && found && cst.Settled() {
				t.set(timeKey(kindDone, h.at, child), nil)
				moved = true
			}
			return err
		})
		if err != nil || !complete {
			return false, used, moved, err
		}
		place.childrenDone = true
	}
	// The journal: every attempt's, under one prefix (its length comes
	// first, so no other execution's keys share it).
	complete, err := t.deleteSlice(appendLenString([]byte{kindJournal}, id), &place.journal, budget, &used, func(k []byte, item *badger.Item) error {
		t.delta.journal -= int64(len(k)) + item.ValueSize()
		return nil
	})
	if err != nil || !complete {
		return false, used, moved, err
	}
	// The record and what hangs off it.
	used++
	t.del(key(kindPromise, id))
	t.del(h.key)
	isExec, err := t.has(key(kindExec, id))
	if err != nil {
		return false, used, moved, err
	}
	if isExec {
		t.del(key(kindExec, id))
		t.delta.execs[st]--
		t.delta.purged++
	}
	// Settling removed these; a record left by a bug is removed with its
	// promise all the same rather than kept for ever.
	for _, k := range [][]byte{key(kindParent, id), key(kindCallback, id), key(kindWaiting, id)} {
		if found, err := t.has(k); err != nil {
			return false, used, moved, err
		} else if found {
			t.del(k)
		}
	}
	if isExec {
		if task, found, err := t.getTask(id); err != nil {
			return false, used, moved, err
		} else if found {
			t.deleteTask(&task)
		}
	}
	*place = purgePlace{}
	return true, used, moved, nil
}

// promiseHead reads a promise's state and settlement time without decoding
// its param and value.
func (t *tx) promiseHead(id string) (st store.State, completedOn int64, ok bool, err error) {
	ok, err = t.get(key(kindPromise, id), func(v []byte) (err error) {
		st, completedOn, err = decodePromiseHead(v)
		return err
	})
	return st, completedOn, ok, err
}

// decodePromiseHead decodes the state and settlement time of an encoded
// promise (see encodePromise), leaving the rest.
func decodePromiseHead(v []byte) (store.State, int64, error) {
	r := reader{b: v}
	r.version("promise")
	st := store.State(r.byte())
	r.varint() // timeout
	r.varint() // created
	completedOn := r.varint()
	if r.err != nil {
		return 0, 0, fmt.Errorf("decode promise: %w", r.err)
	}
	return st, completedOn, nil
}

// addChild records that parent created promise id, so that id stays while
// parent is pending.
func (t *tx) addChild(parent, id string) {
	t.set(childKey(parent, id), nil)
	if derivedParent(id) != parent {
		t.set(key(kindParent, id), []byte(parent))
	}
}

// derivedParent is the parent a child id names ("x" of "x.3"), "" for none.
func derivedParent(id string) string {
	if i := strings.LastIndexByte(id, '.'); i > 0 {
		return id[:i]
	}
	return ""
}

// listedParent returns the execution whose list of children holds id, if
// any.
func (t *tx) listedParent(id string) (string, bool, error) {
	if parent := derivedParent(id); parent != "" {
		if ok, err := t.has(childKey(parent, id)); err != nil || ok {
			return parent, ok, err
		}
	}
	var parent string
	ok, err := t.get(key(kindParent, id), func(v []byte) error { parent = string(v); return nil })
	if err != nil || !ok {
		return "", false, err
	}
	ok, err = t.has(childKey(parent, id))
	return parent, ok, err
}

// settledIndex indexes promise p, just settled, for its purge: in the done
// index, unless its parent is pending (it then stays in the parent's list).
func (t *tx) settledIndex(p *store.Promise) error {
	parent, listed, err := t.listedParent(p.ID)
	if err != nil {
		return err
	}
	if listed {
		st, _, found, err := t.promiseHead(parent)
		if err != nil {
			return err
		}
		if found && st == store.Pending {
			return nil
		}
		t.del(childKey(parent, p.ID))
	}
	t.set(timeKey(kindDone, p.CompletedOn, p.ID), nil)
	return nil
}

// backfill indexes up to max promises of a store written before the
// retention indexes, from where the last slice stopped, as settling them
// would have. The last slice removes the backfill mark.
func (t *tx) backfill(max int) error {
	var after []byte
	if _, err := t.get(backfillKey, func(v []byte) error { after = append([]byte(nil), v...); return nil }); err != nil {
		return err
	}
	prefix := []byte{kindPromise}
	start := prefix
	if after != nil {
		start = append(key(kindPromise, string(after)), 0)
	}
	type seen struct {
		id          string
		state       store.State
		completedOn int64
	}
	var ps []seen
	read := int64(0) // value bytes read: large values are read whole
	err := t.scan(prefix, start, func(item *badger.Item) (bool, error) {
		s := seen{id: string(item.Key()[1:])}
		read += item.ValueSize()
		err := item.Value(func(v []byte) (err error) {
			s.state, s.completedOn, err = decodePromiseHead(v)
			return err
		})
		ps = append(ps, s)
		return len(ps) < max && read < backfillBytes, err
	})
	if err != nil {
		return err
	}
	for _, s := range ps {
		// As settling would have left it: in the list of its parent
		// (by its derived id) while that parent is pending, or when it
		// settled before the parent did; else in the done index.
		parent := derivedParent(s.id)
		listed := false
		if parent != "" {
			isExec, err := t.has(key(kindExec, parent))
			if err != nil {
				return err
			}
			if isExec {
				pst, pdone, found, err := t.promiseHead(parent)
				if err != nil {
					return err
				}
				listed = found && (pst == store.Pending || !s.state.Settled() || s.completedOn <= pdone)
			}
		}
		switch {
		case listed:
			t.set(childKey(parent, s.id), nil)
		case s.state.Settled():
			t.set(timeKey(kindDone, s.completedOn, s.id), nil)
		}
	}
	if len(ps) < max && read < backfillBytes {
		t.del(backfillKey)
		t.log.Info("indexed the settled promises of a store that predates retention")
		return nil
	}
	t.set(backfillKey, []byte(ps[len(ps)-1].id))
	return nil
}

// flushKey is a key no record uses (every kind is a byte below 0xff): a
// ReclaimSpace writes it, then drops it, which is Badger's one way to flush
// its memtable on demand.
var flushKey = []byte{0xff, 'f', 'l', 'u', 's', 'h'}

// ReclaimSpace returns to the file system the space of what was deleted.
// Badger frees a value-log file only by rewriting it, once compactions have
// counted enough of its values deleted, and compactions see a delete only
// once its memtable has been flushed; a store that purges much and writes
// little might wait long for that. So it makes Badger flush its memtable
// (a DropPrefix of a key written for the purpose, run as one operation of
// the committer, since it blocks Badger's writes while it flushes: the
// stall is one memtable flush, at most a 16 MiB table), compacts the
// levels (Flatten, outside the committer: operations go on), then runs the
// value-log garbage collection until no file is at least half deleted.
// One ReclaimSpace runs at a time.
func (d *DB) ReclaimSpace(ctx context.Context) error {
	d.reclaim.Lock()
	defer d.reclaim.Unlock()
	err := d.do(ctx, func(t *tx) error {
		t.frees = true
		t.set(flushKey, nil)
		return nil
	})
	if err == nil {
		err = d.do(ctx, func(t *tx) error {
			if d.readOnly {
				return nil
			}
			return d.bdb.DropPrefix(flushKey)
		})
	}
	if err != nil {
		return fmt.Errorf("reclaim space: flush: %w", err)
	}
	err = d.directly(func(bdb *badger.DB) error { return bdb.Flatten(1) })
	if err != nil {
		return fmt.Errorf("reclaim space: compact: %w", err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := d.directly(func(bdb *badger.DB) error { return bdb.RunValueLogGC(0.5) })
		switch {
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return nil
		case err != nil:
			return fmt.Errorf("reclaim space: value log: %w", err)
		}
	}
}

// directly runs fn on the open, read-write Badger outside the committer;
// it does nothing on a closed or read-only store.
func (d *DB) directly(fn func(*badger.DB) error) error {
	d.direct.RLock()
	defer d.direct.RUnlock()
	if d.closed || d.readOnly {
		return nil
	}
	return fn(d.bdb)
}

// deleteSlice deletes the keys of prefix from *from on (its start when nil),
// calling each on every key before its delete, while *used is under budget;
// it counts each key in *used. When the budget runs out first, *from is the
// first key left and complete is false: the next slice goes on from there.
func (t *tx) deleteSlice(prefix []byte, from *[]byte, budget int, used *int, each func(k []byte, item *badger.Item) error) (complete bool, err error) {
	start := *from
	if start == nil {
		start = prefix
	}
	complete = true
	err = t.scanCommitted(prefix, start, func(item *badger.Item) (bool, error) {
		if *used >= budget {
			*from = item.KeyCopy(nil)
			complete = false
			return false, nil
		}
		*used++
		k := item.KeyCopy(nil)
		if err := each(k, item); err != nil {
			return false, err
		}
		t.del(k)
		return true, nil
	})
	return complete, err
}
