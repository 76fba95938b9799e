package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// step commits journal entries of exec that create the given children:
// ids of the form "<exec>.<seq>" become invoke starts when kids says so,
// sleeps otherwise. settle, when not empty, ends exec with that state.
func step(t testing.TB, d *DB, exec string, seq uint32, children []string, kids bool, end store.State) {
	t.Helper()
	c := store.Commit{Exec: exec, Attempt: 1}
	for i, ch := range children {
		op := store.OpSleep
		if kids {
			op = store.OpInvoke
			c.Starts = append(c.Starts, store.Start{Promise: store.Create{ID: ch, Timeout: store.NoTimeout, IdempotencyKey: ch},
				Execution: store.Execution{Function: "f", Module: "m", Entry: "run", Parent: exec}})
		} else {
			c.Creates = append(c.Creates, store.Create{ID: ch, Timeout: store.NoTimeout, IdempotencyKey: ch})
		}
		c.Entries = append(c.Entries, store.Entry{Seq: seq + uint32(i), Op: op, Child: ch, Outcome: []byte("some journaled outcome")})
	}
	c.Entries = append(c.Entries, store.Entry{Seq: seq + uint32(len(children)), Op: store.OpNow, Outcome: []byte("12345678")})
	if end != store.Pending {
		c.Settle = &store.Settle{ID: exec, State: end, Value: store.Value{Data: []byte("result")}}
	}
	if _, err := d.Commit(ctx, c, "w", t0+1e9); err != nil {
		t.Fatalf("commit %s: %v", exec, err)
	}
}

// resolve settles a promise at the store clock's time.
func resolve(t testing.TB, d *DB, id string) {
	t.Helper()
	if _, err := d.SettlePromise(ctx, store.Settle{ID: id, State: store.Resolved}, "w", t0+1e9); err != nil {
		t.Fatalf("settle %s: %v", id, err)
	}
}

// openAtT0 opens the store in dir with a clock that reads t0.
func openAtT0(t testing.TB, dir string) (*DB, *clock) {
	t.Helper()
	c := &clock{}
	c.set(t0)
	return openAt(t, dir, c), c
}

// purgeAll purges before the cut-off, max at a time, until nothing is left
// to do, and returns how many promises went.
func purgeAll(t testing.TB, d *DB, before int64, max int) int {
	t.Helper()
	total := 0
	for range 100_000 {
		n, more, err := d.Purge(ctx, before, max)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if !more {
			return total
		}
	}
	t.Fatal("purge never ends")
	return 0
}

// present fails unless every id is a stored promise, and those that are
// executions still have their record and journal.
func present(t testing.TB, d *DB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := d.GetPromise(ctx, id); err != nil {
			t.Fatalf("%s was purged or lost: %v", id, err)
		}
		if _, err := d.GetExecution(ctx, id); err == nil {
			if j, err := d.ReadJournal(ctx, id, 1); err != nil || len(j) == 0 {
				t.Fatalf("journal of %s: %d entries, %v", id, len(j), err)
			}
		}
	}
}

// gone fails unless nothing of each id is left: promise, execution,
// journal, and no key of the store names it.
func gone(t testing.TB, d *DB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := d.GetPromise(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: GetPromise = %v, want not found", id, err)
		}
		if _, err := d.GetExecution(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: GetExecution = %v, want not found", id, err)
		}
		if j, err := d.ReadJournal(ctx, id, 1); err != nil || len(j) != 0 {
			t.Fatalf("journal of %s: %d entries left, %v", id, len(j), err)
		}
	}
}

// keysWith lists the store's keys that contain sub and none of except.
func keysWith(t testing.TB, d *DB, sub string, except ...string) []string {
	t.Helper()
	var ks []string
	err := d.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().Key())
			if strings.Contains(k, sub) && !slices.ContainsFunc(except, func(e string) bool { return strings.Contains(k, e) }) {
				ks = append(ks, fmt.Sprintf("%q", k))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// history builds the cases the purge must tell apart, all settled at t0
// unless said otherwise:
//   - old: a finished execution with a sleep and a child execution, which
//     has a child of its own;
//   - live: a pending execution whose children all settled long ago but
//     one, still pending;
//   - ext-old, ext-new (settled at t0+1000), ext-pending: external promises;
//   - late: a finished execution whose sleep settled after it (at t0+1000).
func history(t testing.TB, d *DB, clk *clock) {
	start(t, d, "old", "w")
	step(t, d, "old", 1, []string{"old.1"}, false, store.Pending)
	step(t, d, "old", 2, []string{"old.2"}, true, store.Pending)
	step(t, d, "old.2", 1, []string{"old.2.1"}, false, store.Pending)
	resolve(t, d, "old.2.1")
	step(t, d, "old.2", 2, nil, false, store.Resolved)
	resolve(t, d, "old.1")
	step(t, d, "old", 3, nil, false, store.Resolved)

	start(t, d, "live", "w")
	step(t, d, "live", 1, []string{"live.1"}, false, store.Pending)
	step(t, d, "live", 2, []string{"live.2"}, true, store.Pending)
	step(t, d, "live.2", 1, []string{"live.2.1"}, false, store.Pending)
	resolve(t, d, "live.1")
	resolve(t, d, "live.2.1")
	step(t, d, "live.2", 2, nil, false, store.Rejected)
	step(t, d, "live", 3, []string{"live.3"}, false, store.Pending)

	for _, id := range []string{"ext-old", "ext-new", "ext-pending"} {
		create(t, d, store.Create{ID: id, Timeout: store.NoTimeout})
	}
	resolve(t, d, "ext-old")

	start(t, d, "late", "w")
	step(t, d, "late", 1, []string{"late.1"}, false, store.Resolved)

	clk.set(t0 + 1000)
	resolve(t, d, "ext-new")
	resolve(t, d, "late.1")
}

// TestPurgeDeletesExactlyWhatIsPastItsPeriod purges, a few records at a
// time, everything settled before a cut-off and checks that exactly that
// went — journals, children and every key included — while everything
// pending, every child of a pending execution and everything settled
// since stayed, that a repeat does nothing, and that the counters agree
// with a scan. Then the live execution ends, and its children go with it,
// except the one still pending, which goes once it settles and its own
// period passes.
func TestPurgeDeletesExactlyWhatIsPastItsPeriod(t *testing.T) {
	d, clk := newDB(t)
	history(t, d, clk)
	before := checkCounters(t, d, nil)

	if n := purgeAll(t, d, t0+500, 3); n != 6 {
		t.Errorf("purged %d promises, want 6 (old, old.1, old.2, old.2.1, ext-old, late)", n)
	}
	gone(t, d, "old", "old.1", "old.2", "old.2.1", "ext-old", "late")
	present(t, d, "live", "live.1", "live.2", "live.2.1", "live.3", "ext-new", "ext-pending", "late.1")
	if ks := append(keysWith(t, d, "old"), keysWith(t, d, "late", "late.1")...); len(ks) > 0 {
		t.Errorf("keys of purged promises remain: %v", ks)
	}
	after := checkCounters(t, d, nil)
	if after.Purged != 3 || after.Executions[store.Resolved] != before.Executions[store.Resolved]-3 {
		t.Errorf("after the purge: %d purged, %d resolved (from %d); want 3 purged (old, old.2, late)", after.Purged, after.Executions[store.Resolved], before.Executions[store.Resolved])
	}
	if after.JournalBytes >= before.JournalBytes || after.JournalBytes == 0 {
		t.Errorf("journal bytes %d → %d: want fewer, not none", before.JournalBytes, after.JournalBytes)
	}
	if n, more, err := d.Purge(ctx, t0+500, 3); n != 0 || more || err != nil {
		t.Errorf("a repeat purged %d (more %v, %v), want nothing", n, more, err)
	}

	// The live execution ends: its settled children go with it, its
	// pending one stays until it settles and is past its own period.
	clk.set(t0 + 2000)
	step(t, d, "live", 4, nil, false, store.Resolved)
	if n := purgeAll(t, d, t0+2500, 2); n != 6 {
		t.Errorf("purged %d, want 6 (live, live.1, live.2, live.2.1, ext-new, late.1)", n)
	}
	gone(t, d, "live", "live.1", "live.2", "live.2.1", "ext-new", "late.1")
	present(t, d, "live.3", "ext-pending")
	clk.set(t0 + 3000)
	resolve(t, d, "live.3")
	if n := purgeAll(t, d, t0+2500, 2); n != 0 {
		t.Errorf("purged %d promises settled after the cut-off", n)
	}
	present(t, d, "live.3")
	if n := purgeAll(t, d, t0+3500, 2); n != 1 {
		t.Errorf("purged %d, want live.3", n)
	}
	gone(t, d, "live.3")
	present(t, d, "ext-pending")
	checkCounters(t, d, &[numStates]uint64{})
}

// TestPurgeBackfillsAStoreWrittenBeforeRetention strips a store of its
// retention indexes, as one written before them, and checks that after
// reopening the backfill indexes it, a slice at a time, so that the purge
// then does exactly what it does on a store that always had them.
func TestPurgeBackfillsAStoreWrittenBeforeRetention(t *testing.T) {
	dir := t.TempDir()
	d, clk := openAtT0(t, dir)
	history(t, d, clk)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	bdb, err := openBadger(dir, quietLogger(), false)
	if err != nil {
		t.Fatal(err)
	}
	stripped := 0
	err = bdb.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		var ks [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); slices.Contains([]byte{kindDone, kindChild, kindParent, kindSchema}, k[0]) {
				ks = append(ks, it.Item().KeyCopy(nil))
			}
		}
		it.Close()
		stripped = len(ks)
		for _, k := range ks {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || bdb.Close() != nil {
		t.Fatal(err)
	}
	if stripped < 10 {
		t.Fatalf("stripped only %d retention keys", stripped)
	}

	d = openAt(t, dir, clk)
	if n := purgeAll(t, d, t0+500, 2); n != 6 {
		t.Errorf("purged %d promises, want 6", n)
	}
	gone(t, d, "old", "old.1", "old.2", "old.2.1", "ext-old", "late")
	present(t, d, "live", "live.1", "live.2", "live.2.1", "live.3", "ext-new", "ext-pending", "late.1")
	checkCounters(t, d, nil)
	clk.set(t0 + 2000)
	step(t, d, "live", 4, nil, false, store.Resolved)
	if n := purgeAll(t, d, t0+2500, 2); n != 6 {
		t.Errorf("purged %d, want 6 (live, live.1, live.2, live.2.1, ext-new, late.1)", n)
	}
	gone(t, d, "live", "live.1", "live.2", "live.2.1", "ext-new", "late.1")
	present(t, d, "live.3", "ext-pending")
	// A store opened after its backfill has none to do.
	if ok, err := hasKey(d, backfillKey); err != nil || ok {
		t.Fatalf("backfill mark left: %v, %v", ok, err)
	}
}

func hasKey(d *DB, k []byte) (ok bool, err error) {
	err = d.do(ctx, func(t *tx) (err error) { ok, err = t.has(k); return err })
	return ok, err
}

// TestPurgeCostFollowsWhatItDeletes purges rounds of finished executions
// and checks that a purge with nothing due walks at most the tombstones of
// the last round, not those of the whole history.
func TestPurgeCostFollowsWhatItDeletes(t *testing.T) {
	d, clk := newDB(t)
	for round := range 3 {
		for i := range 200 {
			id := fmt.Sprintf("r%d-%d", round, i)
			start(t, d, id, "w")
			step(t, d, id, 1, nil, false, store.Resolved)
		}
		clk.set(clk.now() + 10)
		if n := purgeAll(t, d, clk.now(), 1000); n != 200 {
			t.Fatalf("round %d purged %d", round, n)
		}
	}
	// Nothing is due: a purge's scan starts at the floor, past the entries
	// of the rounds before the last (their tombstones are still there:
	// nothing has compacted them away). A key's set and delete are two
	// versions.
	var seen, all int
	err := d.do(ctx, func(t *tx) error {
		count := func(start []byte, n *int) {
			it := t.txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindDone}, AllVersions: true})
			defer it.Close()
			for it.Seek(start); it.ValidForPrefix([]byte{kindDone}); it.Next() {
				*n++
			}
		}
		count(timeKey(kindDone, t.floors.of(kindDone), ""), &seen)
		count([]byte{kindDone}, &all)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if all < 2*600 || seen > 2*200 {
		t.Fatalf("the done index holds %d versions and tombstones; a purge with nothing due walks %d of them, want at most the last round's %d", all, seen, 2*200)
	}
}

// purgeCut is the cut-off of the crash test: everything of its old
// history settled before it.
const purgeCut = t0 + 500

// purgeChild purges the store in dir a small slice at a time, printing
// "slice" after each, until it is killed or has nothing left ("done").
func purgeChild(dir string) int {
	d, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started")
	for {
		_, more, err := d.Purge(ctx, purgeCut, 4)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if !more {
			fmt.Println("done")
			return 0
		}
		fmt.Println("slice")
	}
}

// TestPurgeSurvivesAKillMidway kills a process with SIGKILL while it
// purges, then reopens the store: nothing live was lost — every pending
// execution, its journal and its children, everything settled after the
// cut-off — and the purge finishes, leaving the counters exact.
func TestPurgeSurvivesAKillMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	d, clk := openAtT0(t, dir)
	const n = 40
	var old, live []string
	for i := range n {
		o, l := fmt.Sprintf("old%d", i), fmt.Sprintf("live%d", i)
		start(t, d, o, "w")
		step(t, d, o, 1, []string{o + ".1"}, false, store.Pending)
		step(t, d, o, 2, []string{o + ".2"}, true, store.Pending)
		step(t, d, o+".2", 1, nil, false, store.Resolved)
		resolve(t, d, o+".1")
		step(t, d, o, 3, nil, false, store.Resolved)
		old = append(old, o, o+".1", o+".2")

		start(t, d, l, "w")
		step(t, d, l, 1, []string{l + ".1", l + ".2"}, false, store.Pending)
		step(t, d, l, 3, []string{l + ".3"}, true, store.Pending)
		resolve(t, d, l+".1")
		step(t, d, l+".3", 1, nil, false, store.Rejected)
		live = append(live, l, l+".1", l+".2", l+".3")
	}
	clk.set(t0 + 1000)
	for i := range n {
		id := fmt.Sprintf("recent%d", i)
		create(t, d, store.Create{ID: id, Timeout: store.NoTimeout})
		resolve(t, d, id)
		live = append(live, id)
	}
	want := checkCounters(t, d, nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	passes := 0
	killChild(t, "purge", dir, 10, func(line string) bool {
		switch line {
		case "started":
		case "slice":
			passes++
			return true
		case "done":
			t.Fatalf("the purge finished in %d slices, before the kill", passes)
		default:
			t.Fatalf("child said %q", line)
		}
		return false
	})

	d = openAt(t, dir, clk)
	present(t, d, live...)
	mid := checkCounters(t, d, nil)
	if mid.Executions[store.Pending] != want.Executions[store.Pending] || mid.Purged == 0 {
		t.Fatalf("after the kill: %v executions, %d purged; want the %d pending kept and some purged", mid.Executions, mid.Purged, want.Executions[store.Pending])
	}
	purgeAll(t, d, purgeCut, 4)
	gone(t, d, old...)
	present(t, d, live...)
	end := checkCounters(t, d, nil)
	if end.Purged != 2*n || end.Executions[store.Pending] != want.Executions[store.Pending] {
		t.Fatalf("after the purge: %v executions, %d purged; want %d purged and %d pending", end.Executions, end.Purged, 2*n, want.Executions[store.Pending])
	}
}

// TestPurgeAndReclaimReturnDiskSpace fills a store with finished
// executions carrying large values (they live in Badger's value log),
// purges them and reclaims the space: the store's files must then occupy
// far less than before.
func TestPurgeAndReclaimReturnDiskSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MB")
	}
	dir := t.TempDir()
	d, clk := openAtT0(t, dir)
	big := make([]byte, 512<<10)
	const n = 200 // 200 MiB (a param, then the settled promise): three value-log files and more
	for i := range n {
		id := fmt.Sprintf("big%d", i)
		big[0] = byte(i)
		if _, _, err := d.StartExecution(ctx, store.Start{
			Promise:   store.Create{ID: id, Timeout: store.NoTimeout, Param: store.Value{Data: big}},
			Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
		}, "w", t0+1e9); err != nil {
			t.Fatal(err)
		}
		step(t, d, id, 1, nil, false, store.Resolved)
	}
	// A pending execution with a large input, whose value the value log's
	// rewrite moves: it must read back whole.
	big[0] = 'k'
	if _, _, err := d.StartExecution(ctx, store.Start{
		Promise:   store.Create{ID: "kept", Timeout: store.NoTimeout, Param: store.Value{Data: big}},
		Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
	}, "w", t0+1e9); err != nil {
		t.Fatal(err)
	}
	step(t, d, "kept", 1, nil, false, store.Pending)
	used := func() int64 {
		u, err := measureDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return u.used
	}
	full := used()
	clk.set(t0 + 10)
	if got := purgeAll(t, d, clk.now(), 1000); got != n {
		t.Fatalf("purged %d, want %d", got, n)
	}
	afterPurge := used()
	// Reads go on meanwhile; the slowest says how long the flush held
	// the committer (logged, not asserted: the machine is shared).
	stop, slowest := make(chan struct{}), make(chan time.Duration)
	go func() {
		var worst time.Duration
		for {
			select {
			case <-stop:
				slowest <- worst
				return
			default:
			}
			at := time.Now()
			if _, err := d.GetPromise(ctx, "kept"); err != nil {
				t.Error(err)
			}
			worst = max(worst, time.Since(at))
		}
	}()
	began := time.Now()
	if err := d.ReclaimSpace(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	close(stop)
	reclaimed := used()
	t.Logf("store files: %d MiB full, %d MiB after the purge, %d MiB after reclaiming (%v; slowest read meanwhile %v)", full>>20, afterPurge>>20, reclaimed>>20, took.Round(time.Millisecond), (<-slowest).Round(time.Millisecond))
	if reclaimed > full/2 {
		t.Fatalf("the store occupies %d MiB after purging and reclaiming, from %d MiB: the space did not return", reclaimed>>20, full>>20)
	}
	present(t, d, "kept")
	if p := get(t, d, "kept"); !bytes.Equal(p.Param.Data, big) {
		t.Fatalf("the kept execution's input changed: %d bytes, starting %q", len(p.Param.Data), p.Param.Data[:1])
	}
	// Writes go on after the flush, which blocked Badger's for a while.
	step(t, d, "kept", 2, nil, false, store.Resolved)
	if p := get(t, d, "kept"); p.State != store.Resolved {
		t.Fatalf("kept is %s after its result", p.State)
	}
	checkCounters(t, d, nil)
}

// BenchmarkPurgeAfterHistory is the cost of the retention loop's
// pass — purge what became due, here one finished execution with its
// journal and child — on a store where `purged` executions were purged before. It
// must not grow with that history.
func BenchmarkPurgeAfterHistory(b *testing.B) {
	for _, purged := range []int{0, 20_000} {
		b.Run(fmt.Sprintf("purged=%d", purged), func(b *testing.B) {
			d, c := newDB(b)
			finish := func(id string) {
				start(b, d, id, "w")
				step(b, d, id, 1, []string{id + ".1"}, false, store.Pending)
				resolve(b, d, id+".1")
				step(b, d, id, 3, nil, false, store.Resolved)
			}
			for i := range purged {
				finish(fmt.Sprintf("old-%d", i))
			}
			c.set(c.now() + 1)
			if n := purgeAll(b, d, c.now(), 1000); n != 2*purged {
				b.Fatalf("purged %d, want %d", n, 2*purged)
			}
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				finish(fmt.Sprintf("new-%d", i))
				c.set(c.now() + 1)
				b.StartTimer()
				// Two operations: the execution (its child goes to the
				// done index), then the child.
				if n := purgeAll(b, d, c.now(), 256); n != 2 {
					b.Fatalf("purged %d, want the execution and its child", n)
				}
			}
		})
	}
}
