package badgerstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// storedPromise reads id as stored, not as it reads now (GetPromise shows a
// pending promise past its timeout as timed out, fired or not).
func storedPromise(t testing.TB, d *DB, id string) (p store.Promise, ok bool) {
	t.Helper()
	err := d.do(ctx, func(tx *tx) (err error) {
		p, ok, err = tx.getPromise(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, ok
}

func reopen(t testing.TB, d *DB, dir string, c *clock) *DB {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return openAt(t, dir, c)
}

// A restart starts the timer scan where the last one stored its floor,
// past the tombstones of every timer that fired before, instead of at the
// start of the index.
// floorAtLate opens a store in dir where 300 timers fired and a timer
// "late" is due in 1,000,000 ms, with the timer index's floor raised to
// "late" and stored.
func floorAtLate(t *testing.T, dir string) (*DB, *clock) {
	t.Helper()
	c := &clock{}
	c.set(t0)
	d := openAt(t, dir, c)
	fireTimers(t, d, c, "old", 300)
	create(t, d, store.Create{ID: "late", Timeout: c.now() + 1_000_000})
	if s, _, _, err := d.Timeouts(ctx, c.now(), 1000, "", 0); err != nil || len(s) != 0 {
		t.Fatalf("Timeouts = %d settled, %v", len(s), err) // raises the floor to "late"
	}
	create(t, d, store.Create{ID: "other", Timeout: store.NoTimeout}) // a write: stores it
	return d, c
}

func TestRestartKeepsTheTimerFloorPastFiredTimers(t *testing.T) {
	dir := t.TempDir()
	d, c := floorAtLate(t, dir)
	d = reopen(t, d, dir, c)
	if f := d.floors.of(kindTimer); f != c.now()+1_000_000 {
		t.Fatalf("timer floor after a restart = %d, want the live timer's %d (the start of the index is %d)", f, c.now()+1_000_000, int64(math.MinInt64))
	}
	c.set(c.now() + 1_000_000)
	if s, _, _, err := d.Timeouts(ctx, c.now(), 1000, "", 0); err != nil || len(s) != 1 || s[0].ID != "late" {
		t.Fatalf("Timeouts after the restart = %v, %v; want late", s, err)
	}
}

// A timer written below the stored floor — a timeout already past, or a
// clock that went back — lowers the stored floor with it, so it fires
// after a restart.
func TestTimerBelowAStoredFloorFiresAfterRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(t *testing.T, d *DB, c *clock)
	}{
		{"timeout in the past", func(t *testing.T, d *DB, c *clock) {
			create(t, d, store.Create{ID: "early", Timeout: c.now() - 5})
		}},
		{"clock went back", func(t *testing.T, d *DB, c *clock) {
			c.set(c.now() - 60_000)
			create(t, d, store.Create{ID: "early", Timeout: c.now() + 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, c := floorAtLate(t, dir)
			tc.add(t, d, c)
			d = reopen(t, d, dir, c)
			c.set(c.now() + 10)
			s, _, next, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
			if err != nil || len(s) != 1 || s[0].ID != "early" {
				t.Fatalf("Timeouts after the restart = %v, %v; want early", s, err)
			}
			if p, _ := storedPromise(t, d, "early"); p.State != store.RejectedTimedout {
				t.Fatalf("early is stored %s, want timed out", p.State)
			}
			if p, _ := storedPromise(t, d, "late"); p.State != store.Pending || next != p.Timeout {
				t.Fatalf("late is %s and next %d; want pending and next %d", p.State, next, p.Timeout)
			}
		})
	}
}

// A task handed back with its old ready time sorts below the ready
// index's stored floor; it is claimable after a restart.
func TestTaskHandedBackBelowAStoredFloorIsClaimedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	c.set(t0)
	d := openAt(t, dir, c)
	start(t, d, "held", "a") // ready at t0, claimed by a
	c.set(t0 + 5000)
	if _, _, err := d.StartExecution(ctx, store.Start{Promise: store.Create{ID: "later", Timeout: store.NoTimeout}}, "", 0); err != nil {
		t.Fatal(err)
	}
	c.set(t0 + 10_000)
	if cl, _, err := d.ClaimTasks(ctx, "b", t0+4000, t0+60_000, 10); err != nil || len(cl) != 0 {
		t.Fatalf("ClaimTasks before later is ready = %v, %v", cl, err) // raises the floor to t0+5000
	}
	create(t, d, store.Create{ID: "other", Timeout: store.NoTimeout})  // stores it
	if err := d.ReleaseTasks(ctx, "a", []string{"held"}); err != nil { // ready again at t0
		t.Fatal(err)
	}
	d = reopen(t, d, dir, c)
	cl, _, err := d.ClaimTasks(ctx, "b", c.now(), c.now()+60_000, 10)
	if err != nil || !containsExec(cl, "held") || !containsExec(cl, "later") {
		t.Fatalf("ClaimTasks after the restart = %v, %v; want held and later", execs(cl), err)
	}
}

// Opening voids an earlier owner's lease by writing it as lapsed at 0,
// below the stored floor of the lease index: that floor goes down with it,
// so a second restart still reclaims the owner's tasks.
func TestTasksOfAnOwnerVoidedAtOpenAreReclaimedAfterASecondRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	c.set(t0)
	d := openAt(t, dir, c)
	start(t, d, "held", "a") // a's lease until t0+60,000
	if cl, _, err := d.ClaimTasks(ctx, "b", c.now(), c.now()+60_000, 10); err != nil || len(cl) != 0 {
		t.Fatalf("ClaimTasks = %v, %v", cl, err) // raises the lease floor to a's lease
	}
	create(t, d, store.Create{ID: "other", Timeout: store.NoTimeout}) // stores it
	d = reopen(t, d, dir, c)                                          // voids a's lease: lapsed at 0
	d = reopen(t, d, dir, c)
	cl, _, err := d.ClaimTasks(ctx, "b", c.now(), c.now()+60_000, 10)
	if err != nil || !containsExec(cl, "held") {
		t.Fatalf("ClaimTasks after two restarts = %v, %v; want held, its owner's lease voided", execs(cl), err)
	}
}

// timersChild works in rounds, as the host's timer loop and its guests
// do: it fires what is due until a scan finds nothing due (which raises
// the floor to the first timer ahead), then creates timers from several
// goroutines, half of them ahead and half already past (below that
// floor), printing "ack ID TIMEOUT" for each, and waits a little before
// the next round. It goes on until it is killed (or, should the parent be
// gone, for a bounded time).
func timersChild(dir string) int {
	d, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var out sync.Mutex // one write(2) per line: a kill cannot split a line
	fmt.Println("started")
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; time.Now().Before(deadline); round++ {
		for {
			s, _, _, err := d.Timeouts(ctx, time.Now().UnixMilli(), 100, "", 0)
			if err != nil {
				fail(err)
			}
			if len(s) == 0 {
				break
			}
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 8 {
					id := fmt.Sprintf("t%05d-%d-%d", round, g, i)
					timeout := time.Now().UnixMilli() + 50
					if i%2 == 1 {
						timeout -= 100
					}
					if _, _, err := d.CreatePromise(ctx, store.Create{ID: id, Timeout: timeout}); err != nil {
						fail(err)
					}
					out.Lock()
					os.Stdout.WriteString("ack " + id + " " + strconv.FormatInt(timeout, 10) + "\n")
					out.Unlock()
				}
			})
		}
		wg.Wait()
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// A process killed (SIGKILL) while it creates timers, half of them below
// the floor its scans raised, loses none: after the restart, firing
// what is due settles every timer it acknowledged.
func TestCrashWhileTimersAreWrittenLosesNoTimer(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	acked := map[string]int64{}
	killChild(t, "timers", dir, 3000, func(line string) bool {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "started":
		case len(f) == 3 && f[0] == "ack":
			at, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			acked[f[1]] = at
			return true
		default:
			t.Fatalf("child said %q", line)
		}
		return false
	})

	c := &clock{}
	c.set(time.Now().UnixMilli() + 60_000) // every timer acknowledged is due
	d := openAt(t, dir, c)
	for {
		s, _, _, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) == 0 {
			break
		}
	}
	for id, at := range acked {
		p, ok := storedPromise(t, d, id)
		if !ok || p.State != store.RejectedTimedout || p.Timeout != at {
			t.Fatalf("timer %s (due %d) after the restart: found %v, %+v; want fired", id, at, ok, p)
		}
	}
	t.Logf("child killed after %d acknowledged timers; all fired", len(acked))
}

// Tombstones between live entries — promises settled long before their
// timeout — are read a bounded slice per scan: firing the timer before
// them takes several scans, each saying to come back at once, and none
// fires anything early.
func TestTombstonesBetweenTimersAreReadInSlices(t *testing.T) {
	d, c := newDB(t)
	const settledEarly = 3 * maxWalk
	for i := 0; i < settledEarly; i += 1000 {
		err := d.do(ctx, func(tx *tx) error {
			for j := i; j < min(i+1000, settledEarly); j++ {
				if _, _, err := tx.create(store.Create{ID: fmt.Sprintf("early-%05d", j), Timeout: c.now() + 1000 + int64(j)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < settledEarly; i += 1000 {
		err := d.do(ctx, func(tx *tx) error {
			for j := i; j < min(i+1000, settledEarly); j++ {
				if _, err := tx.settle(store.Settle{ID: fmt.Sprintf("early-%05d", j), State: store.Resolved}, "", 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	create(t, d, store.Create{ID: "due", Timeout: c.now() + 10})
	create(t, d, store.Create{ID: "far", Timeout: c.now() + 1_000_000})
	c.set(c.now() + 1000 + settledEarly) // past every early one's timeout
	var fired []string
	scans := 0
	for next := c.now(); next != 0 && next <= c.now(); scans++ {
		if scans > 2*settledEarly/maxWalk+2 {
			t.Fatalf("still scanning after %d scans", scans)
		}
		s, _, n, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s {
			fired = append(fired, p.ID)
		}
		next = n
		if next != 0 && next > c.now() && next != t0+1_000_000 {
			t.Fatalf("next = %d, want far's %d", next, t0+1_000_000)
		}
	}
	if len(fired) != 1 || fired[0] != "due" {
		t.Fatalf("fired %v, want due alone", fired)
	}
	if scans < 2 {
		t.Fatalf("one scan read all %d tombstones", settledEarly)
	}
	// Once read whole, the stretch is skipped: the next timer fired before
	// it finds the far one as next in one scan.
	create(t, d, store.Create{ID: "due2", Timeout: t0 + 500}) // due, before the stretch
	s, _, next, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
	if err != nil || len(s) != 1 || s[0].ID != "due2" || next != t0+1_000_000 {
		t.Fatalf("Timeouts after the stretch was read = %v, next %d, %v; want due2 and next %d", s, next, err, t0+1_000_000)
	}
	// A timer written inside the stretch is found all the same (past
	// the part of the stretch before it, read again a slice at a time).
	create(t, d, store.Create{ID: "inside", Timeout: t0 + 1000 + settledEarly/2})
	fired = nil
	next = c.now()
	for i := 0; next != 0 && next <= c.now(); i++ {
		if i > 2*settledEarly/maxWalk+2 {
			t.Fatalf("still scanning after %d scans", i)
		}
		if s, _, next, err = d.Timeouts(ctx, c.now(), 1000, "", 0); err != nil {
			t.Fatal(err)
		}
		for _, p := range s {
			fired = append(fired, p.ID)
		}
	}
	if len(fired) != 1 || fired[0] != "inside" || next != t0+1_000_000 {
		t.Fatalf("after a timer was written inside the stretch, fired %v, next %d; want inside, and next far's %d", fired, next, t0+1_000_000)
	}
}

// A task handed back with a ready time inside a stretch of tombstones a
// scan read whole (the tasks claimed around it) is claimed again.
func TestTaskHandedBackInsideAStretchOfTombstonesIsClaimed(t *testing.T) {
	d, c := newDB(t)
	for i := range 300 {
		c.set(t0 + int64(i))
		if _, _, err := d.StartExecution(ctx, store.Start{Promise: store.Create{ID: fmt.Sprintf("e%03d", i), Timeout: store.NoTimeout}}, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if cl, _, err := d.ClaimTasks(ctx, "a", c.now(), c.now()+60_000, 1000); err != nil || len(cl) != 300 {
		t.Fatalf("ClaimTasks = %d, %v", len(cl), err)
	}
	for range 2 { // reads the stretch of tombstones whole
		if cl, _, err := d.ClaimTasks(ctx, "a", c.now(), c.now()+60_000, 1000); err != nil || len(cl) != 0 {
			t.Fatalf("ClaimTasks of nothing = %d, %v", len(cl), err)
		}
	}
	if err := d.ReleaseTasks(ctx, "a", []string{"e150"}); err != nil { // ready again at t0+150
		t.Fatal(err)
	}
	cl, _, err := d.ClaimTasks(ctx, "b", c.now(), c.now()+60_000, 1000)
	if err != nil || len(cl) != 1 || cl[0].Exec != "e150" {
		t.Fatalf("ClaimTasks after e150 was handed back = %v, %v; want e150", execs(cl), err)
	}
}

// startOwned starts n executions whose tasks owner claims, many to an
// operation, and returns their ids.
func startOwned(t testing.TB, d *DB, owner string, n int, leaseUntil int64) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += 1000 {
		err := d.do(ctx, func(tx *tx) error {
			for j := i; j < min(i+1000, n); j++ {
				id := fmt.Sprintf("%s-%05d", owner, j)
				if _, _, _, err := tx.start(store.Start{Promise: store.Create{ID: id, Timeout: store.NoTimeout}}, owner, leaseUntil); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// An owner that dies leaves, in its index of tasks, the tombstones of every
// task it finished. Reclaiming its live tasks after a restart reads them a
// bounded slice per ClaimTasks, each saying there is more, and claims every
// live task once; a claim refused for want of space loses none.
func TestReclaimingADeadOwnersTasksReadsWhatItFinishedInSlices(t *testing.T) {
	dir := t.TempDir()
	c := &clock{}
	c.set(t0)
	d := openAt(t, dir, c)
	const n, every = 3 * maxWalk, 1000
	ids := startOwned(t, d, "old", n, t0+3_600_000)
	live := map[string]bool{}
	for i := 0; i < n; i += 1000 {
		err := d.do(ctx, func(tx *tx) error {
			for j := i; j < min(i+1000, n); j++ {
				if j%every == every-1 {
					live[ids[j]] = true // still held when it dies
					continue
				}
				if _, err := tx.settle(store.Settle{ID: ids[j], State: store.Resolved}, "", 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d = reopen(t, d, dir, c) // voids old's lease

	d.SetQuota(1) // the first claims are refused: their slices must not count
	refused := 0
	for range 3 {
		if _, _, err := d.ClaimTasks(ctx, "new", c.now(), c.now()+60_000, 100); err != nil {
			var sf *store.StorageFullError
			if !errors.As(err, &sf) {
				t.Fatal(err)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("setup: no claim was refused at a quota of 1 byte")
	}
	d.SetQuota(0)

	claimed := map[string]int{}
	calls := 0
	for next := c.now(); next != 0 && next <= c.now(); calls++ {
		if calls > 2*n/maxWalk+4 {
			t.Fatalf("still reclaiming after %d claims", calls)
		}
		cl, nx, err := d.ClaimTasks(ctx, "new", c.now(), c.now()+60_000, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range cl {
			claimed[tk.Exec]++
		}
		next = nx
	}
	if len(claimed) != len(live) {
		t.Fatalf("reclaimed %d tasks, want the %d old held", len(claimed), len(live))
	}
	for id, k := range claimed {
		if !live[id] || k != 1 {
			t.Fatalf("%s reclaimed %d times (held by old: %v)", id, k, live[id])
		}
	}
	if calls < 2 {
		t.Fatalf("one ClaimTasks read all %d keys of the dead owner", n)
	}
	if _, ok, err := leaseOf(d, "old"); err != nil || ok {
		t.Fatalf("old's lease record after its tasks were reclaimed: %v, %v; want gone", ok, err)
	}
}

func leaseOf(d *DB, owner string) (until int64, ok bool, err error) {
	err = d.do(ctx, func(tx *tx) (err error) {
		until, ok, err = tx.ownerLease(owner)
		return err
	})
	return until, ok, err
}

// A fan-out's timers share one deadline, so the floor (a time) cannot move
// past those fired before within that ms: the tombstones of each batch
// fired lie before the next batch. Firing them in batches still gets
// through them all, each scan past the stretch the scans before it read.
func TestTimersSharingADeadlineFireInBatches(t *testing.T) {
	d, c := newDB(t)
	const n = 20_000
	for i := 0; i < n; i += 2000 {
		err := d.do(ctx, func(tx *tx) error {
			for j := i; j < i+2000; j++ {
				if _, _, err := tx.create(store.Create{ID: fmt.Sprintf("child-%05d.1", j), Timeout: c.now() + 1}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c.set(c.now() + 1)
	fired, scans := 0, 0
	for next := c.now(); next != 0 && next <= c.now(); scans++ {
		if scans > 2*n/1000 {
			t.Fatalf("%d scans fired %d of %d timers", scans, fired, n)
		}
		s, _, nx, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		fired, next = fired+len(s), nx
	}
	if fired != n {
		t.Fatalf("fired %d of %d", fired, n)
	}
}
