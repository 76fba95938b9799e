package badgerstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/metrics"
	"github.com/reprise-wasm/reprise/store"
)

// Counters. Executions by state and the journal's size are kept in one
// record (key countersKey), written in the same transaction as the
// operations that change them, so after a crash they are exactly as durable
// as those operations. An operation adds its changes to its tx's delta; the
// batch sums the deltas of the operations it applies and writes the record
// once, just before each commit: one small write per batch, nothing per
// operation but a few additions.

const numStates = int(store.RejectedTimedout) + 1

// countersKey holds the counters record. No other key starts with its byte.
var countersKey = []byte{kindCounters}

type counters struct {
	execs   [numStates]int64 // executions by their promise's stored state
	journal int64            // journal bytes, keys and values
	purged  int64            // executions purged since the store was created
}

func (c *counters) add(d *counters) {
	for i := range c.execs {
		c.execs[i] += d.execs[i]
	}
	c.journal += d.journal
	c.purged += d.purged
}

func (c *counters) isZero() bool { return *c == counters{} }

// execSettled counts an execution's promise leaving pending for s.
func (c *counters) execSettled(s store.State) {
	c.execs[store.Pending]--
	c.execs[s]++
}

func encodeCounters(c *counters) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*(numStates+2))
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, uint64(numStates))
	for _, n := range c.execs {
		b = binary.AppendVarint(b, n)
	}
	b = binary.AppendVarint(b, c.journal)
	return binary.AppendVarint(b, c.purged)
}

func decodeCounters(v []byte) (counters, error) {
	r := reader{b: v}
	r.version("counters")
	var c counters
	if n := r.uvarint(); n != uint64(numStates) && r.err == nil {
		return c, fmt.Errorf("decode counters: %d states, want %d: %w", n, numStates, errCorrupt)
	}
	for i := range c.execs {
		c.execs[i] = r.varint()
	}
	c.journal = r.varint()
	if len(r.b) > 0 { // a record written before purges has no count of them
		c.purged = r.varint()
	}
	return c, r.done("counters")
}

// published is the committed counters for readers on any goroutine. The
// committer is the only writer; a reader retries while a write is under way
// (seq odd, or changed meanwhile), so it never sees half an update and
// takes no lock.
type published struct {
	seq     atomic.Uint64
	execs   [numStates]atomic.Int64
	journal atomic.Int64
	purged  atomic.Int64
}

func (p *published) store(c *counters) {
	p.seq.Add(1)
	for i := range c.execs {
		p.execs[i].Store(c.execs[i])
	}
	p.journal.Store(c.journal)
	p.purged.Store(c.purged)
	p.seq.Add(1)
}

func (p *published) load() counters {
	for {
		s := p.seq.Load()
		if s%2 == 1 {
			continue
		}
		var c counters
		for i := range c.execs {
			c.execs[i] = p.execs[i].Load()
		}
		c.journal = p.journal.Load()
		c.purged = p.purged.Load()
		if p.seq.Load() == s {
			return c
		}
	}
}

// stats is the DB's monitoring state.
type stats struct {
	counts counters // committed; the committer's own
	pub    published
	ops    atomic.Uint64
	syncs  metrics.Latencies
}

// Stats returns the store's figures. It reads counters kept in memory and
// waits for nothing, not even the committer.
func (d *DB) Stats(ctx context.Context) (store.Stats, error) {
	if err := ctx.Err(); err != nil {
		return store.Stats{}, err
	}
	c := d.stats.pub.load()
	var s store.Stats
	for i, n := range c.execs {
		s.Executions[i] = uint64(max(n, 0))
	}
	s.JournalBytes = uint64(max(c.journal, 0))
	s.Purged = uint64(max(c.purged, 0))
	s.Operations = d.stats.ops.Load()
	s.Syncs = d.stats.syncs.Snapshot()
	return s, nil
}

// loadCounters reads the counters record. A store written before there
// were counters has none: then they are counted once, by a scan, and
// written, and kept from there on.
func (d *DB) loadCounters() error {
	var c counters
	found := false
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(countersKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(v []byte) (err error) {
			c, err = decodeCounters(v)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("read counters: %w", err)
	}
	if !found {
		if err := d.bdb.View(func(txn *badger.Txn) (err error) { c, err = countByScan(txn); return err }); err != nil {
			return fmt.Errorf("count executions and journals: %w", err)
		}
		if !d.readOnly { // else written when the store opens read-write
			err := d.bdb.Update(func(txn *badger.Txn) error { return txn.Set(countersKey, encodeCounters(&c)) })
			if err != nil {
				return fmt.Errorf("write counters: %w", err)
			}
		}
		d.log.Info("counted executions and journals of a store without counters", "executions", c.execs, "journal_bytes", c.journal)
	}
	d.stats.counts = c
	d.stats.pub.store(&c)
	return nil
}

// countByScan counts what the counters record holds by reading every
// execution's promise and every journal key.
func countByScan(txn *badger.Txn) (counters, error) {
	var c counters
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindExec}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		id := string(it.Item().Key()[1:])
		item, err := txn.Get(key(kindPromise, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return c, err
		}
		err = item.Value(func(v []byte) error {
			p, err := decodePromise(id, v)
			if err == nil && int(p.State) < numStates {
				c.execs[p.State]++
			}
			return err
		})
		if err != nil {
			return c, err
		}
	}
	jt := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindJournal}})
	defer jt.Close()
	for jt.Rewind(); jt.Valid(); jt.Next() {
		item := jt.Item()
		c.journal += int64(len(item.Key())) + item.ValueSize()
	}
	return c, nil
}

// checkPendingIndex reports an error unless the index of pending promises
// holds exactly the promises stored pending.
func checkPendingIndex(txn *badger.Txn) error {
	pending := map[string]bool{}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindPromise}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		id := string(it.Item().Key()[1:])
		err := it.Item().Value(func(v []byte) error {
			p, err := decodePromise(id, v)
			pending[id] = err == nil && !p.State.Settled()
			return err
		})
		if err != nil {
			return err
		}
	}
	xt := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindPendingIdx}})
	defer xt.Close()
	for xt.Rewind(); xt.Valid(); xt.Next() {
		id := string(xt.Item().Key()[1:])
		if !pending[id] {
			return fmt.Errorf("the pending index holds %q, which is not a pending promise: %w", id, errCorrupt)
		}
		delete(pending, id)
	}
	for id, p := range pending {
		if p {
			return fmt.Errorf("pending promise %q is missing from the pending index: %w", id, errCorrupt)
		}
	}
	return nil
}

// CountByScan counts executions by state and journal bytes by reading the
// whole store, as a check of what Stats reports without one, and checks
// that the index of pending promises agrees with the promises. It costs a
// full scan inside the committer: for tests and offline checks only.
func (d *DB) CountByScan(ctx context.Context) (store.Stats, error) {
	var c counters
	err := d.do(ctx, func(t *tx) (err error) {
		if c, err = countByScan(t.txn); err != nil || !d.pendingIndexed.Load() {
			return err
		}
		return checkPendingIndex(t.txn)
	})
	var s store.Stats
	for i, n := range c.execs {
		s.Executions[i] = uint64(n)
	}
	s.JournalBytes = uint64(c.journal)
	return s, err
}
