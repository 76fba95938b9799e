package badgerstore

import (
	"encoding/binary"
	"fmt"
)

// Key layout. One prefix byte names the record kind. Numbers in keys are
// fixed-width big endian so that byte order is numeric order; times have their
// sign bit flipped so that negative values sort first. Strings that are
// followed by more key parts carry a uvarint length first, so that no id can
// collide with another id's extension.
const (
	kindPromise = 'p' // p id                     → promise
	kindTimer   = 'T' // T timeout id             → (empty) pending promises with a timeout
	kindExec    = 'e' // e id                     → execution
	kindJournal = 'j' // j len exec attempt seq   → journal entry
	kindTask    = 't' // t exec                   → task
	kindReady   = 'r' // r readyAt exec           → (empty) unclaimed tasks
	kindOwner   = 'o' // o len owner exec         → (empty) claimed tasks, by owner
	kindLease   = 'L' // L owner                  → the owner's lease: until when (Unix ms) its tasks are its own
	kindExpiry  = 'E' // E leaseUntil owner       → (empty) owners' leases by when they lapse
	// kindLegacyLease is the index of claimed tasks by their own lease, of
	// stores written before leases were their owners'; Open clears it.
	kindLegacyLease = 'l' // l leaseUntil exec → (empty)
	kindCallback    = 'c' // c promise                → exec ids awaiting it
	kindWaiting     = 'w' // w exec                   → promise ids it awaits
	kindModule      = 'm' // m hash                   → wasm bytes
	kindVersion     = 'v' // v len name version       → function version
	kindFunction    = 'f' // f name                   → latest version of a function
	kindCounters    = 's' // s                        → counters (see stats.go)
	kindFloor       = 'F' // F index kind             → the index's floor (see floors.go)
	kindPendingIdx  = 'P' // P id                     → (empty) promises stored pending (see schema.go)
	// Retention (see purge.go).
	kindDone     = 'd' // d settledAt id            → (empty) settled promises purgeable on their own, by settlement
	kindChild    = 'k' // k len parent id           → (empty) promises an execution created, kept while it is pending
	kindParent   = 'a' // a id                      → parent: the creator of a child whose id is not derived from it
	kindSchema   = 'V' // V                         → the store's schema version (see schema.go)
	kindBackfill = 'B' // B                         → where the backfill of the retention indexes has got to
)

// maxKey stays under Badger's 65,000-byte key limit with room for our prefixes;
// a write whose key is longer fails its operation before it reaches Badger.
const maxKey = 60000

func key(kind byte, id string) []byte {
	b := make([]byte, 0, 1+len(id))
	return append(append(b, kind), id...)
}

func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func keyTime(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

// timeKey is kind, time, id: the timer, ready and lease indexes.
func timeKey(kind byte, t int64, id string) []byte {
	b := make([]byte, 0, 9+len(id))
	b = appendTime(append(b, kind), t)
	return append(b, id...)
}

// splitTimeKey returns the time and id of a timeKey.
func splitTimeKey(k []byte) (int64, string, error) {
	if len(k) < 9 {
		return 0, "", fmt.Errorf("index key %q: %w", k, errCorrupt)
	}
	return keyTime(k[1:9]), string(k[9:]), nil
}

func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func journalPrefix(exec string, attempt uint32) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(exec)+8)
	b = appendLenString(append(b, kindJournal), exec)
	return binary.BigEndian.AppendUint32(b, attempt)
}

func journalKey(exec string, attempt, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(journalPrefix(exec, attempt), seq)
}

func ownerPrefix(owner string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(owner))
	return appendLenString(append(b, kindOwner), owner)
}

func ownerKey(owner, exec string) []byte { return append(ownerPrefix(owner), exec...) }

func childPrefix(parent string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(parent))
	return appendLenString(append(b, kindChild), parent)
}

func childKey(parent, id string) []byte { return append(childPrefix(parent), id...) }

func versionKey(name string, version uint32) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(name)+4)
	b = appendLenString(append(b, kindVersion), name)
	return binary.BigEndian.AppendUint32(b, version)
}
