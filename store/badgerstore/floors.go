package badgerstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// floors keeps, for each time index (timers, ready tasks, owners' leases), a time
// below which the index has no live entry. Badger keeps a deleted key as a
// tombstone until a compaction merges it away, and these indexes delete
// entries all the time (every timer that fires, every task claimed, every
// lease renewed): a scan from the start of the index walks all of them, so
// its cost would grow with the store's history. A scan seeks to the floor
// instead, and walks only the tombstones left since the previous scan.
//
// The rule that keeps it right: every write of an index entry lowers the
// floor to the entry's time (at once, in tx.put, whether or not the
// operation then succeeds: a floor that is too low only costs a longer
// scan); a scan raises it to the first entry it finds, which is the
// earliest one there is, since the scan started at the floor.
//
// # Across a restart
//
// The floors are also stored (F kind → floor, see keys.go), so that the
// first scan after a restart starts where the last one left off rather
// than at the start of the index, which after 1,000,000 fired timers is
// 1,000,000 tombstones to walk inside the committer (~100 ms; see
// BENCHMARKS.md). A stored floor must never be above a live entry, or that
// entry would never be found again (a timer that never fires). So a floor
// is stored only as part of an operation that writes anyway, in the same
// Badger transaction as that operation's writes: an operation that
// succeeds and writes carries the floors as they stand after it
// (persist), and every floor is at or below every live entry at that
// point, the operation's own entries included, since writing an entry
// lowered it. An entry written below the stored floor — a timeout already
// past, a clock that went back, a task handed back with its old ready
// time, a lease voided at open — therefore lowers the stored floor in the
// very transaction that writes the entry: no crash can separate them. An
// operation that fails, or that only reads, stores nothing; its raises
// are stored by the next operation that writes, and until then the stored
// floor is merely lower than it could be, which costs the first scan after
// a restart the tombstones since (those of one operation, usually).
//
// Rebuilding the floors at start instead, by a scan that skips tombstones,
// would walk them all the same (Badger skips a tombstone only by reading
// it), and an in-memory timer wheel rebuilt at start would have to read
// the live timers by that same scan; a key per index costs one small
// write per batch that moves a floor, in a transaction that is committed
// and synced anyway. A store written before floors were stored has none:
// its first scans of each index start at the beginning, once, in slices
// (below).
//
// # Tombstones between live entries
//
// The floor covers what lies below the first live entry. Tombstones also
// lie between live ones: promises settled long before their timeout (an
// approval answered in minutes, its timer an hour ahead), the tasks a dead
// owner finished before it died. Two things bound what a scan reads there:
//   - No scan reads more than maxWalk keys (tombstones and older versions
//     included, scanVersions); one that stops there returns as next the
//     time it got to, which is at or before the next live entry, so its
//     caller (the timer or task loop) comes back then, at once if it is
//     due, and nothing is ever found late. So no operation holds the
//     committer for long, however long the stretch.
//   - gaps remembers, per index, a few stretches of tombstones scans read
//     whole (from a tombstone to the next live entry, or to where the scan
//     stopped, joined across slices), and the next scan seeks past them.
//     A write of an entry inside it moves its start past the entry, at
//     once, as a write lowers the floor. It is not stored: after a
//     restart the first scans find the stretch again, a slice each.
//
// Only the committer goroutine uses them (and Open, before the committer
// starts), so they need no lock.
//
// owners is the same for the tasks of an owner whose lease lapsed: where
// reclaiming them has got to (the key after the last one read), so each
// slice seeks past the tombstones of the slices before. It moves only once
// the operation that read the slice has succeeded (tx.places), so a claim
// that failed is read again. A task claimed for that owner again (it was
// only late) may sort before it, so claiming one for an owner forgets its
// place. It is not stored: after a restart every owner's place is
// forgotten, and the owner's index is read again from its start, a slice
// per ClaimTasks.
//
// The index of settled promises by settlement (kindDone), which every
// purge deletes from, has a floor like the others; purge is where the
// purge of one promise whose children or journal took more than one slice
// has got to (see purge.go).
type floors struct {
	// cur is where each index's live entries begin, at most; durable is
	// the floor the store holds (as of the operations applied to the
	// batch); pending is what the operation being applied stores.
	cur, durable, pending [len(floorKinds)]int64
	// gaps are, per index, stretches of tombstones scans read whole, in
	// key order, at most maxGaps: the next scan seeks past them.
	gaps   [len(floorKinds)][]gap
	owners map[string][]byte
	purge  purgePlace
}

// maxGaps bounds the gaps kept per index; past it, the one farthest from
// the floor goes (a scan meets the nearer ones first).
const maxGaps = 4

// gap is a stretch of an index that holds no live entry: every key k with
// from <= k < to is a tombstone, or absent.
//
// Like the floor, it is kept right by writes: writing an entry inside it
// (tx.put, floors.lower) makes it start past that entry, at once, whether
// or not the operation then succeeds. It lives in memory only: after a
// restart, scans find the stretches again, a slice at a time.
type gap struct{ from, to []byte }

// holds reports whether key lies in g.
func (g gap) holds(key []byte) bool {
	return bytes.Compare(key, g.from) >= 0 && bytes.Compare(key, g.to) < 0
}

// past returns where the gap of index kind that holds key ends, nil when
// none holds it.
func (f *floors) past(kind byte, key []byte) []byte {
	if i := slot(kind); i >= 0 {
		for _, g := range f.gaps[i] {
			if g.holds(key) {
				return g.to
			}
		}
	}
	return nil
}

// found records a stretch of tombstones a scan of index kind read,
// joining the gaps it overlaps or touches. A scan that stopped at maxWalk
// records where it got, so the next one goes on from there.
func (f *floors) found(kind byte, g gap) {
	i := slot(kind)
	if i < 0 {
		return
	}
	gs := f.gaps[i][:0:0]
	at := -1 // where g goes in gs
	for _, e := range f.gaps[i] {
		switch {
		case bytes.Compare(e.to, g.from) < 0: // before g
			gs = append(gs, e)
		case bytes.Compare(g.to, e.from) < 0: // after g
			if at < 0 {
				at = len(gs)
				gs = append(gs, g)
			}
			gs = append(gs, e)
		default: // overlaps or touches g: one stretch
			if bytes.Compare(e.from, g.from) < 0 {
				g.from = e.from
			}
			if bytes.Compare(e.to, g.to) > 0 {
				g.to = e.to
			}
		}
	}
	if at < 0 {
		gs = append(gs, g)
	}
	if len(gs) > maxGaps {
		gs = gs[:maxGaps]
	}
	f.gaps[i] = gs
}

// floorKinds are the indexes with a floor, in the order of floors' arrays.
var floorKinds = [...]byte{kindTimer, kindReady, kindExpiry, kindLegacyLease, kindDone}

func newFloors() floors {
	f := floors{owners: map[string][]byte{}}
	for i := range floorKinds {
		f.cur[i], f.durable[i] = math.MinInt64, math.MinInt64
	}
	return f
}

// floorKey is the key of the stored floor of index kind.
func floorKey(kind byte) []byte { return []byte{kindFloor, kind} }

// load reads the stored floors; an index without one keeps MinInt64.
func (f *floors) load(txn *badger.Txn) error {
	for i, kind := range floorKinds {
		item, err := txn.Get(floorKey(kind))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the floor of index %q: %w", kind, err)
		}
		err = item.Value(func(v []byte) error {
			n, w := binary.Varint(v)
			if w <= 0 || w != len(v) {
				return fmt.Errorf("floor of index %q: %w", kind, errCorrupt)
			}
			f.cur[i], f.durable[i] = n, n
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// persist adds to t, an operation that succeeded and writes, the floors
// that differ from the stored ones; persisted records them once t's
// writes are in the batch's transaction.
func (f *floors) persist(t *tx) {
	f.pending = f.durable
	for i, kind := range floorKinds {
		if f.cur[i] != f.durable[i] {
			t.set(floorKey(kind), binary.AppendVarint(nil, f.cur[i]))
			f.pending[i] = f.cur[i]
		}
	}
}

func (f *floors) persisted() { f.durable = f.pending }

// forgetOwner drops where reclaiming owner's tasks had got to.
func (f *floors) forgetOwner(owner string) {
	if len(f.owners) > 0 {
		delete(f.owners, owner)
	}
}

// slot is the place of index kind in floors' arrays, -1 for a kind
// without a floor.
func slot(kind byte) int {
	switch kind {
	case kindTimer:
		return 0
	case kindReady:
		return 1
	case kindExpiry:
		return 2
	case kindLegacyLease:
		return 3
	case kindDone:
		return 4
	}
	return -1
}

// of is the floor of index kind.
func (f *floors) of(kind byte) int64 {
	if i := slot(kind); i >= 0 {
		return f.cur[i]
	}
	return math.MinInt64
}

// lower makes room below the floor for a time index entry being written.
func (f *floors) lower(key []byte) {
	if len(key) < 9 {
		return
	}
	if i := slot(key[0]); i >= 0 {
		f.cur[i] = min(f.cur[i], keyTime(key[1:9]))
		for j := range f.gaps[i] {
			if g := &f.gaps[i][j]; g.holds(key) {
				// Keep the part past the entry: new entries are mostly
				// near the start of a stretch (a sleep of a second among
				// promises settled before their timeout an hour ahead),
				// and a scan reads what lies before it on the way anyway.
				g.from = append(bytes.Clone(key), 0)
				if bytes.Compare(g.from, g.to) >= 0 {
					f.gaps[i] = slices.Delete(f.gaps[i], j, j+1)
				}
				break
			}
		}
	}
}

// raise moves the floor of index kind up to first, the earliest entry a
// scan from the floor found; seen false means it found none, and the next
// write lowers it again.
func (f *floors) raise(kind byte, first int64, seen bool) {
	i := slot(kind)
	if i < 0 {
		return
	}
	if !seen {
		first = math.MaxInt64
	}
	f.cur[i] = max(f.cur[i], first)
}
