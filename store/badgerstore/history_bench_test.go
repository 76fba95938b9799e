package badgerstore

import (
	"fmt"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// fireTimers makes n promises time out: created with a timeout at the
// clock's next ms, then fired by Timeouts in batches, as the host's timer
// loop does. Their index entries are deleted, and stay in Badger as
// tombstones until a compaction.
func fireTimers(tb testing.TB, d *DB, c *clock, prefix string, n int) {
	tb.Helper()
	const batch = 1000
	for i := 0; i < n; i += batch {
		for j := i; j < min(i+batch, n); j++ {
			if _, _, err := d.CreatePromise(ctx, store.Create{ID: fmt.Sprintf("%s-%d", prefix, j), Timeout: c.now() + 1}); err != nil {
				tb.Fatal(err)
			}
		}
		c.set(c.now() + 1)
		settled, _, _, err := d.Timeouts(ctx, c.now(), batch, "w", c.now()+60_000)
		if err != nil {
			tb.Fatal(err)
		}
		if want := min(batch, n-i); len(settled) != want {
			tb.Fatalf("Timeouts settled %d, want %d", len(settled), want)
		}
	}
}

// BenchmarkTimeoutsAfterHistory is the cost of the timer loop's
// operation — create a timer, fire what is due — on a store where
// `settled` timers fired before. It must not grow with that history.
func BenchmarkTimeoutsAfterHistory(b *testing.B) {
	for _, settled := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("settled=%d", settled), func(b *testing.B) {
			d, c := newDB(b)
			fireTimers(b, d, c, "old", settled)
			i := 0
			for b.Loop() {
				i++
				if _, _, err := d.CreatePromise(ctx, store.Create{ID: fmt.Sprintf("new-%d", i), Timeout: c.now() + 1}); err != nil {
					b.Fatal(err)
				}
				c.set(c.now() + 1)
				if s, _, _, err := d.Timeouts(ctx, c.now(), 1000, "w", c.now()+60_000); err != nil || len(s) != 1 {
					b.Fatalf("Timeouts = %d settled, %v", len(s), err)
				}
			}
		})
	}
}

// TestTimerBelowTheFloorFires checks that a scan that raised the timer
// index's floor past the deleted entries does not miss a timer written
// later with an earlier time (a timeout already past when it is created).
func TestTimerBelowTheFloorFires(t *testing.T) {
	d, c := newDB(t)
	fireTimers(t, d, c, "old", 3000) // the floor now lies past their tombstones
	create(t, d, store.Create{ID: "late", Timeout: t0 + 1_000_000})
	if s, _, _, err := d.Timeouts(ctx, c.now(), 1000, "w", c.now()+60_000); err != nil || len(s) != 0 {
		t.Fatalf("Timeouts before any is due = %d settled, %v", len(s), err) // raises the floor to "late"
	}
	create(t, d, store.Create{ID: "early", Timeout: c.now() - 5}) // below the floor
	s, _, next, err := d.Timeouts(ctx, c.now(), 1000, "w", c.now()+60_000)
	if err != nil || len(s) != 1 || s[0].ID != "early" {
		t.Fatalf("Timeouts = %v, %v; want early settled", s, err)
	}
	if next != t0+1_000_000 {
		t.Fatalf("next = %d, want the late timer's %d", next, t0+1_000_000)
	}
	if p := get(t, d, "early"); p.State != store.RejectedTimedout {
		t.Fatalf("early is %s, want timed out", p.State)
	}
}
