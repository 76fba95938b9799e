package badgerstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Leases are per owner. L/owner holds until when the owner's tasks are its
// own, and E/leaseUntil/owner indexes the leases by when they lapse, so
// ClaimTasks finds the owners whose lease has lapsed without reading the
// others. A task claimed for an owner extends its lease to the claim's
// lease (when less than half of it is left, so that not every claim
// writes it); Heartbeat sets it. An owner's record goes once its lease has
// lapsed and it holds no task any more.

// maxLapsedOwners bounds the lapsed owners one ClaimTasks looks at.
const maxLapsedOwners = 16

// ownerLease reads owner's lease.
func (t *tx) ownerLease(owner string) (until int64, ok bool, err error) {
	ok, err = t.get(key(kindLease, owner), func(v []byte) error {
		n, w := binary.Varint(v)
		if w <= 0 {
			return fmt.Errorf("lease of %q: %w", owner, errCorrupt)
		}
		until = n
		return nil
	})
	return until, ok, err
}

// setLease makes owner's lease end at until.
func (t *tx) setLease(owner string, until int64) error {
	old, ok, err := t.ownerLease(owner)
	if err != nil {
		return err
	}
	if ok {
		if old == until {
			return nil
		}
		t.del(timeKey(kindExpiry, old, owner))
	}
	t.set(key(kindLease, owner), binary.AppendVarint(nil, until))
	t.set(timeKey(kindExpiry, until, owner), nil)
	return nil
}

// extendLease makes owner's lease last until at least until, writing it only
// when less than half of what is asked for is left.
func (t *tx) extendLease(owner string, until int64) error {
	old, ok, err := t.ownerLease(owner)
	if err != nil {
		return err
	}
	if ok && (old >= until || old-t.now >= (until-t.now)/2) {
		return nil
	}
	return t.setLease(owner, until)
}

// dropLease removes the lease of an owner that holds no task any more.
func (t *tx) dropLease(owner string, until int64) {
	t.del(key(kindLease, owner))
	t.del(timeKey(kindExpiry, until, owner))
	delete(t.floors.owners, owner)
}

// orphanTask is a task held by an owner whose lease lapsed.
type orphanTask struct{ owner, exec string }

// lapsedOwner is an owner whose lease lapsed and who holds no task any
// more, or (stale) an index entry of a lease that is not there.
type lapsedOwner struct {
	owner string
	until int64
	stale bool
}

// scanLapsed returns up to room tasks of owners whose lease ended at or
// before now, and the lapsed owners that hold nothing past those; more
// says that lapsed owners may hold more than it read (claimable now). It
// only reads, so an operation calls it before it writes.
//
// Each owner's tasks are read from where the previous slice ended
// (floors.owners; tx.places moves it once the operation has succeeded),
// and a slice reads at most maxWalk keys: an owner's index holds the
// tombstones of every task it finished, until a compaction drops them,
// and an owner that died after a long life leaves many.
func (t *tx) scanLapsed(now int64, room int) (orphans []orphanTask, empty []lapsedOwner, more bool, err error) {
	hits, next, err := t.scanIndex(kindExpiry, now, maxLapsedOwners)
	if err != nil {
		return nil, nil, false, err
	}
	more = next != 0 && next <= now // more lapsed owners than it read
	w := newWalker()
	for _, h := range hits {
		if len(orphans) >= room || w.spent() {
			return orphans, empty, true, nil
		}
		until, ok, err := t.ownerLease(h.id)
		if err != nil {
			return nil, nil, false, err
		}
		if !ok || until != h.at {
			// Stale: dropped with the operation's writes, after every scan.
			empty = append(empty, lapsedOwner{h.id, h.at, true})
			continue
		}
		prefix := ownerPrefix(h.id)
		var last []byte
		left := false
		err = t.scanVersions(prefix, t.floors.owners[h.id], func(item *badger.Item) ([]byte, bool, error) {
			if len(orphans) >= room || w.spent() {
				left = true
				return nil, false, nil
			}
			if w.live(item) {
				orphans = append(orphans, orphanTask{h.id, string(item.Key()[len(prefix):])})
			}
			last = item.KeyCopy(last[:0])
			return nil, true, nil
		})
		if err != nil {
			return nil, nil, false, err
		}
		if !left {
			// It holds nothing past what this operation takes.
			empty = append(empty, lapsedOwner{h.id, until, false})
		} else if last != nil {
			// The next slice starts after the last key read: a task
			// this operation claims, a stale one it drops, or a
			// tombstone.
			t.places[h.id] = append(last, 0)
			more = true
		} else {
			more = true
		}
	}
	return orphans, empty, more, nil
}

// voidLeases ends every owner's lease. Open runs it before the committer
// starts: Badger locks the directory, so no owner of an earlier process can
// still be running, and its tasks are claimable at once. It reads the
// owners' records, one per owner that still held tasks, not the tasks.
func (d *DB) voidLeases() (owners int, err error) {
	err = d.runAlone(func(t *tx) error {
		type lease struct {
			owner string
			until int64
		}
		var ls []lease
		prefix := []byte{kindLease}
		err := t.scan(prefix, nil, func(item *badger.Item) (bool, error) {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return false, err
			}
			n, w := binary.Varint(v)
			if w <= 0 {
				return false, fmt.Errorf("lease of %q: %w", item.Key()[1:], errCorrupt)
			}
			ls = append(ls, lease{string(bytes.Clone(item.Key()[1:])), n})
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.until != 0 {
				if err := t.setLease(l.owner, 0); err != nil {
					return err
				}
			}
		}
		owners = len(ls)
		return nil
	})
	return owners, err
}
