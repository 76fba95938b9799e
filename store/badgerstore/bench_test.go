package badgerstore

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// benchEntry is a journal entry of about 200 bytes, the size of the figures
// in the design brief.
func benchEntry(seq uint32) store.Entry {
	return entry(seq, store.OpHTTP, fmt.Sprintf("exec-%08d.%d", seq/1000, seq), make([]byte, 160))
}

// BenchmarkCommitSequential is the latency of one durable Commit (one entry,
// one fsync) when nothing else runs.
func BenchmarkCommitSequential(b *testing.B) {
	d, _ := newDB(b)
	start(b, d, "e", "w")
	var seq uint32
	for b.Loop() {
		seq++
		if _, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: []store.Entry{benchEntry(seq)}}, "w", t0+1e9); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitConcurrent has 256 executions commit one entry each at a
// time; ns/op is the store's throughput per commit, thanks to group commit.
func BenchmarkCommitConcurrent(b *testing.B) {
	d, _ := newDB(b)
	const writers = 256
	for i := range writers {
		start(b, d, fmt.Sprint("e", i), "w")
	}
	var next atomic.Int32
	b.SetParallelism((writers + 1) / 2) // × GOMAXPROCS goroutines; 2 cores here
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		exec := fmt.Sprint("e", next.Add(1)%writers)
		var seq uint32
		for pb.Next() {
			seq++
			if _, err := d.Commit(ctx, store.Commit{Exec: exec, Attempt: 1, Entries: []store.Entry{benchEntry(seq)}}, "w", t0+1e9); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReadJournal replays a 10,000-entry journal; ns/entry is the figure.
func BenchmarkReadJournal(b *testing.B) {
	d, _ := newDB(b)
	start(b, d, "e", "w")
	const n = 10_000
	for i := uint32(0); i < n; i += 1000 {
		es := make([]store.Entry, 1000)
		for j := range es {
			es[j] = benchEntry(i + uint32(j))
		}
		if _, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: es}, "w", t0+1e9); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		es, err := d.ReadJournal(ctx, "e", 1)
		if err != nil || len(es) != n {
			b.Fatal(len(es), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}

// BenchmarkGetPromise is one linearizable read through the committer.
func BenchmarkGetPromise(b *testing.B) {
	d, _ := newDB(b)
	create(b, d, store.Create{ID: "p", Timeout: store.NoTimeout, Param: store.Value{Data: make([]byte, 100)}, Tags: map[string]string{"a": "b"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.GetPromise(ctx, "p"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPendingSearchAfterHistory is the search a host makes at every
// start (its pending HTTP requests) on a store holding 100,000 settled
// promises and 10 pending ones, reopened and compacted as a host finds it:
// it reads the pending index, not every promise (deleted index entries not
// yet compacted away are still walked).
func BenchmarkPendingSearchAfterHistory(b *testing.B) {
	d, _ := newDB(b)
	for i := range 100 {
		err := d.do(ctx, func(t *tx) error {
			for j := range 1000 {
				id := fmt.Sprintf("done-%03d-%04d", i, j)
				if _, _, err := t.create(store.Create{ID: id, Timeout: store.NoTimeout}); err != nil {
					return err
				}
				if _, err := t.settle(store.Settle{ID: id, State: store.Resolved}, "", 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		create(b, d, store.Create{ID: fmt.Sprintf("live-%d", i), Timeout: store.NoTimeout, Tags: map[string]string{"reprise:kind": "http"}})
	}
	// As a host finds it at start: the history flushed and compacted.
	dir := d.dir
	d.Close()
	d, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := d.bdb.Flatten(1); err != nil {
		b.Fatal(err)
	}
	q := store.Query{States: []store.State{store.Pending}, Tags: map[string]string{"reprise:kind": "http"}}
	for b.Loop() {
		n := 0
		for q.Cursor = ""; ; {
			page, cursor, err := d.SearchPromises(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if cursor == "" {
				break
			}
			q.Cursor = cursor
		}
		if n != 10 {
			b.Fatalf("found %d", n)
		}
	}
}
