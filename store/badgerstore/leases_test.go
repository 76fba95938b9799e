package badgerstore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// startChildren starts n child executions of parent in commits of up to
// 1,000, each claimed for owner until leaseUntil.
func startChildren(t testing.TB, d *DB, parent, owner string, n int, leaseUntil int64) {
	t.Helper()
	for i := 0; i < n; {
		c := store.Commit{Exec: parent, Attempt: 1}
		for ; i < n && len(c.Starts) < 1000; i++ {
			id := fmt.Sprintf("%s.%06d", parent, i)
			c.Starts = append(c.Starts, store.Start{
				Promise:   store.Create{ID: id, Timeout: store.NoTimeout, IdempotencyKey: id},
				Execution: store.Execution{Function: "f", Module: "m", Entry: "run", Parent: parent},
			})
		}
		res, err := d.Commit(ctx, c, owner, leaseUntil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Claimed) != len(c.Starts) {
			t.Fatalf("commit claimed %d of %d new tasks", len(res.Claimed), len(c.Starts))
		}
	}
}

// An owner's heartbeat renews one record, so it succeeds however many tasks
// the owner holds: rewriting every task, as leases per task did, fails past
// tens of thousands with Badger's "Txn is too big".
func TestHeartbeatWithVeryManyOwnedTasks(t *testing.T) {
	const n = 40_000
	d, _ := newDB(t)
	start(t, d, "root", "w")
	startChildren(t, d, "root", "w", n, t0+60_000)
	if err := d.Heartbeat(ctx, "w", t0+120_000); err != nil {
		t.Fatalf("heartbeat of an owner of %d tasks: %v", n+1, err)
	}
	// Every task's lease is the owner's: none is claimable before it ends.
	if tk, _ := task(t, d, "root.039999"); tk.Owner != "w" || tk.LeaseUntil != t0+120_000 {
		t.Fatalf("task after heartbeat: %+v", tk)
	}
	if c, _, err := d.ClaimTasks(ctx, "w2", t0+119_999, t0+200_000, 10); err != nil || len(c) != 0 {
		t.Fatalf("claimed %d tasks of an owner whose lease is live (%v)", len(c), err)
	}
	if c, _, err := d.ClaimTasks(ctx, "w2", t0+120_000, t0+200_000, 10); err != nil || len(c) != 10 {
		t.Fatalf("claimed %d tasks once the lease lapsed, want 10 (%v)", len(c), err)
	}
}

// Once an owner's lease lapses, ClaimTasks reclaims its tasks a slice at a
// time, each task once, until none is left; then the owner's lease record
// goes. A late owner that claims again keeps what it still holds.
func TestClaimAfterOwnerLeaseLapses(t *testing.T) {
	const n = 2_500
	d, _ := newDB(t)
	start(t, d, "root", "dead")
	startChildren(t, d, "root", "dead", n, t0+60_000)
	if c, _, _ := d.ClaimTasks(ctx, "w", t0+59_999, t0+100_000, 100); len(c) != 0 {
		t.Fatalf("claimed %d tasks before the lease lapsed", len(c))
	}
	seen := map[string]bool{}
	for round := 0; ; round++ {
		c, next, err := d.ClaimTasks(ctx, "w", t0+60_000, t0+100_000, 300)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range c {
			if seen[tk.Exec] {
				t.Fatalf("round %d claimed %s twice", round, tk.Exec)
			}
			if tk.Owner != "w" || tk.LeaseUntil != t0+100_000 {
				t.Fatalf("claimed %+v", tk)
			}
			seen[tk.Exec] = true
		}
		if len(c) < 300 {
			if next != 0 {
				t.Fatalf("nothing left, but next = %d", next)
			}
			break
		}
		if next != t0+60_000 {
			t.Fatalf("a full slice with more left: next = %d, want now (%d)", next, t0+60_000)
		}
	}
	if len(seen) != n+1 {
		t.Fatalf("reclaimed %d tasks, want %d", len(seen), n+1)
	}
	for _, id := range []string{"root", "root.000000", "root.002499"} {
		if tk, ok := task(t, d, id); !ok || tk.Owner != "w" {
			t.Fatalf("%s: %+v, %v", id, tk, ok)
		}
	}
	err := d.do(ctx, func(tx *tx) error {
		if _, ok, err := tx.ownerLease("dead"); err != nil || ok {
			return fmt.Errorf("the lease of an owner with no tasks left is still there (%v)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The reclaimed tasks are w's: its writes go through, the dead owner's
	// are refused.
	if _, err := d.Commit(ctx, store.Commit{Exec: "root.000007", Attempt: 1}, "w", t0+100_000); err != nil {
		t.Fatal(err)
	}
	_, err = d.Commit(ctx, store.Commit{Exec: "root.000008", Attempt: 1}, "dead", t0+100_000)
	wantErr(t, err, store.ErrNotOwner)
}

// A slow owner whose lease lapsed and that then claims again keeps the
// tasks not yet reclaimed, including ones that sort before where the
// reclaim had got to.
func TestLateOwnerKeepsWhatIsLeft(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "a", "slow")
	start(t, d, "c", "slow")
	start(t, d, "d", "slow")
	// At t0+60_000 the lease of slow lapses; w takes one task.
	c, _, err := d.ClaimTasks(ctx, "w", t0+60_000, t0+1_000_000, 1)
	if err != nil || !slices.Equal(execs(c), []string{"a"}) {
		t.Fatalf("claimed %v, %v", execs(c), err)
	}
	// slow is back: it starts b (before where the reclaim got to) and
	// renews its lease.
	start(t, d, "b", "slow")
	if err := d.Heartbeat(ctx, "slow", t0+300_000); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := d.ClaimTasks(ctx, "w", t0+200_000, t0+1_000_000, 10); len(c) != 0 {
		t.Fatalf("claimed %v from an owner whose lease is live again", execs(c))
	}
	// It lapses again: b, c and d are all found.
	c, _, err = d.ClaimTasks(ctx, "w", t0+300_000, t0+1_000_000, 10)
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(execs(c))), []string{"b", "c", "d"}) {
		t.Fatalf("claimed %v, %v", execs(c), err)
	}
}

// Reopening voids the leases of the previous process by its owners'
// records: its many tasks are claimable at once, in slices.
func TestReopenVoidsOwnerLeases(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	clk.set(t0)
	d := openAt(t, dir, clk)
	start(t, d, "root", "old")
	startChildren(t, d, "root", "old", 5_000, t0+600_000)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openAt(t, dir, clk)
	got := 0
	for {
		c, _, err := d.ClaimTasks(ctx, "new", t0, t0+60_000, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got += len(c)
		if len(c) < 1000 {
			break
		}
	}
	if got != 5_001 {
		t.Fatalf("after reopen claimed %d tasks, want 5001", got)
	}
}
