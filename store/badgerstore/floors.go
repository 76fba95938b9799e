package badgerstore

import "math"

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
// earliest one there is, since the scan started at the floor. The floors
// live in memory: after a restart the first scan of each index starts at
// its beginning.
//
// Only the committer goroutine uses them (and voidLeases, before the
// committer starts), so they need no lock.
//
// owners is the same for the tasks of an owner whose lease lapsed: where
// reclaiming them has got to (the key after the last one reclaimed), so
// each slice seeks past the tombstones of the slices before. A task
// claimed for that owner again (it was only late) may sort before it, so
// claiming one for an owner forgets its place.
//
// done is the floor of the index of settled promises by settlement, which
// every purge deletes from; purge is where the purge of one promise whose
// children or journal took more than one slice has got to (see purge.go).
type floors struct {
	timer, ready, expiry, legacy, done int64
	owners                             map[string][]byte
	purge                              purgePlace
}

func newFloors() floors {
	return floors{math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, map[string][]byte{}, purgePlace{}}
}

// forgetOwner drops where reclaiming owner's tasks had got to.
func (f *floors) forgetOwner(owner string) {
	if len(f.owners) > 0 {
		delete(f.owners, owner)
	}
}

func (f *floors) at(kind byte) *int64 {
	switch kind {
	case kindTimer:
		return &f.timer
	case kindReady:
		return &f.ready
	case kindExpiry:
		return &f.expiry
	case kindLegacyLease:
		return &f.legacy
	case kindDone:
		return &f.done
	}
	return nil
}

// of is the floor of index kind.
func (f *floors) of(kind byte) int64 {
	if p := f.at(kind); p != nil {
		return *p
	}
	return math.MinInt64
}

// lower makes room below the floor for a time index entry being written.
func (f *floors) lower(key []byte) {
	if len(key) < 9 {
		return
	}
	if p := f.at(key[0]); p != nil {
		*p = min(*p, keyTime(key[1:9]))
	}
}

// raise moves the floor of index kind up to first, the earliest entry a
// scan from the floor found; seen false means it found none, and the next
// write lowers it again.
func (f *floors) raise(kind byte, first int64, seen bool) {
	p := f.at(kind)
	if p == nil {
		return
	}
	if !seen {
		first = math.MaxInt64
	}
	*p = max(*p, first)
}
