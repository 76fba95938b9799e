package badgerstore

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// checkCounters fails unless Stats agrees with a full scan and, when want is
// not nil, with the counts the test expects.
func checkCounters(t *testing.T, d *DB, want *[numStates]uint64) store.Stats {
	t.Helper()
	got, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := d.CountByScan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Executions != scan.Executions || got.JournalBytes != scan.JournalBytes {
		t.Fatalf("counters drifted: kept %v and %d journal bytes, a scan finds %v and %d", got.Executions, got.JournalBytes, scan.Executions, scan.JournalBytes)
	}
	if want != nil && got.Executions != *want {
		t.Fatalf("executions by state = %v, want %v", got.Executions, *want)
	}
	return got
}

// TestStatsCountExecutionsThroughEverySettlePath drives executions through
// every way their promise can settle — settle, cancel, commit with a result,
// a timer, a settle that finds the timeout passed, idempotent and forbidden
// repeats — and checks the counters against a scan after each step and
// after reopening.
func TestStatsCountExecutionsThroughEverySettlePath(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	clk.set(t0)
	d := openAt(t, dir, clk)
	var want [numStates]uint64
	startExec := func(id string, timeout int64) {
		t.Helper()
		_, created, err := d.StartExecution(ctx, store.Start{
			Promise:   store.Create{ID: id, Timeout: timeout, IdempotencyKey: "k"},
			Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
		}, "w", t0+60_000)
		if err != nil {
			t.Fatal(err)
		}
		if created {
			want[store.Pending]++
		}
	}
	move := func(s store.State) { want[store.Pending]--; want[s]++ }

	for i := range 10 {
		startExec(fmt.Sprint("e", i), store.NoTimeout)
	}
	startExec("e0", store.NoTimeout) // an idempotent repeat counts nothing
	create(t, d, store.Create{ID: "plain", Timeout: store.NoTimeout})
	checkCounters(t, d, &want)

	settle(t, d, store.Settle{ID: "e0", State: store.Resolved, IdempotencyKey: "r"}, "w")
	move(store.Resolved)
	settle(t, d, store.Settle{ID: "e0", State: store.Resolved, IdempotencyKey: "r"}, "w") // repeat
	settle(t, d, store.Settle{ID: "e1", State: store.Rejected}, "w")
	move(store.Rejected)
	settle(t, d, store.Settle{ID: "e2", State: store.RejectedCanceled}, "w")
	move(store.RejectedCanceled)
	_, err := d.SettlePromise(ctx, store.Settle{ID: "e2", State: store.Resolved}, "w", t0+60_000)
	wantErr(t, err, store.ErrForbidden)
	settle(t, d, store.Settle{ID: "plain", State: store.Resolved}, "w") // not an execution
	res, err := d.Commit(ctx, store.Commit{Exec: "e3", Attempt: 1,
		Entries: []store.Entry{entry(1, store.OpNow, "", []byte("12345678"))},
		Settle:  &store.Settle{ID: "e3", State: store.Resolved, IdempotencyKey: "reprise:result"}}, "w", t0+60_000)
	if err != nil || res.Settled == nil {
		t.Fatalf("Commit = %+v, %v", res, err)
	}
	move(store.Resolved)
	// A commit refused (not the owner) changes nothing.
	_, err = d.Commit(ctx, store.Commit{Exec: "e4", Attempt: 1,
		Settle: &store.Settle{ID: "e4", State: store.Resolved}}, "other", t0+60_000)
	wantErr(t, err, store.ErrNotOwner)
	before := checkCounters(t, d, &want)
	if before.JournalBytes == 0 {
		t.Fatal("a journal was written but JournalBytes is 0")
	}

	// Timeouts: one fired by the timer, one found by a settle (forbidden:
	// the timeout is written all the same), one by an allowed settle, and
	// one created already past its timeout.
	startExec("t0", t0+10)
	startExec("t1", t0+10)
	startExec("t2", t0+10)
	startExec("t3", t0-1)
	clk.set(t0 + 20)
	_, err = d.SettlePromise(ctx, store.Settle{ID: "t1", State: store.Resolved, Strict: true}, "w", t0+60_000)
	wantErr(t, err, store.ErrForbidden)
	move(store.RejectedTimedout)
	settle(t, d, store.Settle{ID: "t2", State: store.Resolved}, "w") // allowed: timed out, not strict
	move(store.RejectedTimedout)
	checkCounters(t, d, &want)
	settled, _, _, err := d.Timeouts(ctx, clk.now(), 100, "w", t0+60_000)
	if err != nil || len(settled) != 2 {
		t.Fatalf("Timeouts settled %d, %v; want t0 and t3", len(settled), err)
	}
	move(store.RejectedTimedout)
	move(store.RejectedTimedout)
	got := checkCounters(t, d, &want)
	if got.Operations == 0 || got.Syncs.Count == 0 || got.Syncs.Sum <= 0 || len(got.Syncs.Counts) != len(got.Syncs.Bounds)+1 {
		t.Fatalf("sync figures: %d operations, %+v", got.Operations, got.Syncs)
	}

	// They are durable: a reopened store reads them back, without a scan.
	d.Close()
	d = openAt(t, dir, clk)
	got = checkCounters(t, d, &want)
	if got.Syncs.Count > 1 { // reopening voids leases: at most that one commit
		t.Fatalf("sync histogram is since open, but a reopened store reports %d syncs", got.Syncs.Count)
	}
}

// TestStatsCountedOnceForAStoreWithoutCounters opens a store whose counters
// record is missing (as one written before there were counters) and checks
// that it is rebuilt by a scan and then kept.
func TestStatsCountedOnceForAStoreWithoutCounters(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, nil)
	start(t, d, "a", "w")
	start(t, d, "b", "w")
	settle(t, d, store.Settle{ID: "b", State: store.Rejected}, "w")
	if _, err := d.Commit(ctx, store.Commit{Exec: "a", Attempt: 1, Entries: []store.Entry{entry(1, store.OpRandom, "", []byte("xy"))}}, "w", time.Now().Add(time.Minute).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	want := checkCounters(t, d, nil)
	if err := d.do(ctx, func(t *tx) error { t.del(countersKey); return nil }); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d = openAt(t, dir, nil)
	got := checkCounters(t, d, nil)
	if got.Executions != want.Executions || got.JournalBytes != want.JournalBytes {
		t.Fatalf("after a count by scan: %v and %d bytes, want %v and %d", got.Executions, got.JournalBytes, want.Executions, want.JournalBytes)
	}
	settle(t, d, store.Settle{ID: "a", State: store.Resolved}, "w")
	if got := checkCounters(t, d, nil); got.Executions[store.Resolved] != 1 || got.Executions[store.Pending] != 0 {
		t.Fatalf("counters not kept after the scan: %v", got.Executions)
	}
}

// TestStatsAfterBatchSplitAndFailedOperation checks the counters when one
// batch holds many operations, is split into several transactions, and
// holds operations that fail.
func TestStatsAfterBatchSplitAndFailedOperation(t *testing.T) {
	d, _ := newDB(t)
	const n = 300
	errs := make(chan error, 2*n)
	for i := range n {
		go func() {
			_, _, err := d.StartExecution(ctx, store.Start{
				Promise:   store.Create{ID: fmt.Sprint("x", i), Timeout: store.NoTimeout, IdempotencyKey: "k", Param: store.Value{Data: make([]byte, 40<<10)}},
				Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
			}, "w", t0+60_000)
			errs <- err
			// Settling twice with different keys: the second is refused.
			_, err = d.SettlePromise(ctx, store.Settle{ID: fmt.Sprint("x", i), State: store.Resolved, IdempotencyKey: "a"}, "w", t0+60_000)
			if err == nil {
				_, err = d.SettlePromise(ctx, store.Settle{ID: fmt.Sprint("x", i), State: store.Rejected, IdempotencyKey: "b"}, "w", t0+60_000)
				if err == nil {
					err = fmt.Errorf("a conflicting settle of x%d succeeded", i)
				} else {
					err = nil
				}
			}
			errs <- err
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var want [numStates]uint64
	want[store.Resolved] = n
	checkCounters(t, d, &want)
}

// countersChild starts and settles executions every way it can from many
// goroutines, printing "ok" every so often, until it is killed.
func countersChild(dir string) int {
	d, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started")
	deadline := time.Now().Add(60 * time.Second)
	lease := func() int64 { return time.Now().Add(time.Hour).UnixMilli() }
	var wg sync.WaitGroup
	wg.Go(func() { // the timer
		for time.Now().Before(deadline) {
			if _, _, _, err := d.Timeouts(ctx, time.Now().UnixMilli(), 100, "w", lease()); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			time.Sleep(time.Millisecond)
		}
	})
	for g := range 16 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("g%02d-%06d", g, i)
				timeout := store.NoTimeout
				if i%5 == 4 {
					timeout = time.Now().UnixMilli() + 2
				}
				_, _, err := d.StartExecution(ctx, store.Start{
					Promise:   store.Create{ID: id, Timeout: timeout, IdempotencyKey: "k"},
					Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
				}, "w", lease())
				switch i % 5 {
				case 0:
					_, err = d.SettlePromise(ctx, store.Settle{ID: id, State: store.Resolved, IdempotencyKey: "r"}, "w", lease())
					if err == nil { // an idempotent repeat
						_, err = d.SettlePromise(ctx, store.Settle{ID: id, State: store.Resolved, IdempotencyKey: "r"}, "w", lease())
					}
				case 1:
					_, err = d.SettlePromise(ctx, store.Settle{ID: id, State: store.RejectedCanceled}, "w", lease())
				case 2:
					_, err = d.Commit(ctx, store.Commit{Exec: id, Attempt: 1,
						Entries: []store.Entry{entry(1, store.OpNow, "", []byte("12345678"))},
						Settle:  &store.Settle{ID: id, State: store.Rejected}}, "w", lease())
				case 3: // left pending
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				if i%50 == 0 {
					fmt.Println("ok")
				}
			}
		})
	}
	wg.Wait()
	return 0
}

// TestStatsExactAfterCrash kills a process that starts and settles
// executions with SIGKILL and checks that the reopened store's counters
// match a full scan: they are written in the transactions they count.
func TestStatsExactAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	killChild(t, "counters", dir, 100, func(line string) bool { return line == "ok" })

	d := openAt(t, dir, nil)
	got := checkCounters(t, d, nil)
	var total uint64
	for _, n := range got.Executions {
		total += n
	}
	if total == 0 || got.Executions[store.RejectedCanceled] == 0 || got.JournalBytes == 0 {
		t.Fatalf("after the crash: %v and %d journal bytes; the child wrote more than that", got.Executions, got.JournalBytes)
	}
	t.Logf("after the crash: executions by state %v, %d journal bytes", got.Executions, got.JournalBytes)
}
