package badgerstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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

// historyRound is how many timers one round of buildHistory settles;
// a tenth as many executions go through a task each round.
const historyRound = 5000

// buildHistory gives d the history of a busy store, fast: n timers created
// many to an operation and fired in batches of 1000 by Timeouts; n/10
// promises with a timeout an hour ahead, settled before it (as a person
// answers an approval); and n/10 executions started unclaimed, claimed by
// the owner "old" (renewing its lease each round) and finished. What is
// left of them are settled promises and tombstones in the timer, ready,
// owner, task and lease indexes — those of the promises settled early lie
// ahead of the timers the benchmark fires.
func buildHistory(tb testing.TB, d *DB, c *clock, n int) {
	tb.Helper()
	for i := 0; i < n; i += historyRound {
		round := min(historyRound, n-i)
		inOneOp(tb, d, round, func(t *tx, j int) error {
			_, _, err := t.create(store.Create{ID: fmt.Sprintf("h%09d", i+j), Timeout: c.now() + 1})
			return err
		})
		execs := round / 10
		inOneOp(tb, d, execs, func(t *tx, j int) error {
			_, _, err := t.create(store.Create{ID: fmt.Sprintf("a%09d", i+j), Timeout: c.now() + 3_600_000})
			return err
		})
		inOneOp(tb, d, execs, func(t *tx, j int) error {
			_, err := t.settle(store.Settle{ID: fmt.Sprintf("a%09d", i+j), State: store.Resolved}, "", 0)
			return err
		})
		inOneOp(tb, d, execs, func(t *tx, j int) error {
			_, _, _, err := t.start(store.Start{Promise: store.Create{ID: fmt.Sprintf("x%09d", i+j), Timeout: store.NoTimeout}}, "", 0)
			return err
		})
		c.set(c.now() + 1)
		for fired := 0; fired < round; {
			s, _, next, err := d.Timeouts(ctx, c.now(), 1000, "", 0)
			if err != nil || len(s) == 0 && (next == 0 || next > c.now()) {
				tb.Fatalf("round %d: Timeouts after %d of %d: %d settled, next %d (now %d), %v", i/historyRound, fired, round, len(s), next, c.now(), err)
			}
			fired += len(s) // none when it read a slice of tombstones: it says to come back
		}
		claimed, _, err := d.ClaimTasks(ctx, "old", c.now(), c.now()+3_600_000, execs)
		if err != nil || len(claimed) != execs {
			tb.Fatalf("ClaimTasks: %d of %d, %v", len(claimed), execs, err)
		}
		if err := d.Heartbeat(ctx, "old", c.now()+3_600_000); err != nil {
			tb.Fatal(err)
		}
		inOneOp(tb, d, len(claimed), func(t *tx, j int) error {
			_, err := t.settle(store.Settle{ID: claimed[j].Exec, State: store.Resolved}, "old", c.now()+3_600_000)
			return err
		})
	}
}

// inOneOp runs fn for j from 0 to n-1 in one store operation: many writes
// to a commit.
func inOneOp(tb testing.TB, d *DB, n int, fn func(t *tx, j int) error) {
	tb.Helper()
	err := d.do(ctx, func(t *tx) error {
		for j := range n {
			if err := fn(t, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// liveState is the live work both the fresh store and the one with a
// history hold while they are measured: a timer far ahead, a pending
// promise to read, and tasks claimed by "old" (which a restart leaves to
// be reclaimed).
func liveState(tb testing.TB, d *DB, c *clock) {
	tb.Helper()
	create(tb, d, store.Create{ID: "live-timer", Timeout: c.now() + 1_000_000_000})
	create(tb, d, store.Create{ID: "live-get", Timeout: store.NoTimeout, Param: store.Value{Data: []byte(`{"a":1}`)}})
	for i := range 10 {
		if _, _, err := d.StartExecution(ctx, store.Start{Promise: store.Create{ID: fmt.Sprintf("live-%d", i), Timeout: store.NoTimeout}}, "old", c.now()+3_600_000); err != nil {
			tb.Fatal(err)
		}
	}
}

// historySizes are the histories BenchmarkStoreAfterHistory compares with
// a fresh store: REPRISE_BENCH_HISTORY, a comma-separated list (e.g.
// 1000000,10000000), 100000 when unset.
func historySizes(tb testing.TB) []int {
	env := os.Getenv("REPRISE_BENCH_HISTORY")
	if env == "" {
		return []int{100_000}
	}
	var sizes []int
	for f := range strings.SplitSeq(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			tb.Fatalf("REPRISE_BENCH_HISTORY=%q: want a comma-separated list of positive counts of settled timers, e.g. 1000000,10000000", env)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// benchStore is one store BenchmarkStoreAfterHistory measures.
type benchStore struct {
	name string
	dir  string
	c    *clock
	d    *DB
	seq  int
}

func (s *benchStore) reopen(tb testing.TB) {
	tb.Helper()
	if err := s.d.Close(); err != nil {
		tb.Fatal(err)
	}
	d, err := Open(s.dir, Options{Logger: quietLogger(), Now: s.c.Now})
	if err != nil {
		tb.Fatal(err)
	}
	s.d = d
}

// BenchmarkStoreAfterHistory measures the store's operations on a fresh
// store and on stores with a history of settled timers (see buildHistory,
// historySizes), alternated in rounds: the cost of creating a timer and
// of firing it, GetPromise, StartExecution, ClaimTasks, SettlePromise and
// Heartbeat, each as a metric of its own (µs). In the mode "restart" every
// iteration first closes and reopens the store, so the metrics are the
// first such operation after a restart (ns/op includes the reopen); the
// warm rounds all run first.
//
//	REPRISE_BENCH_HISTORY=1000000,10000000 go test ./store/badgerstore -run '^$' -bench StoreAfterHistory -timeout 2h
func BenchmarkStoreAfterHistory(b *testing.B) {
	stores := []*benchStore{{name: "fresh"}}
	for _, n := range historySizes(b) {
		stores = append(stores, &benchStore{name: fmt.Sprintf("history=%d", n)})
	}
	for i, s := range stores {
		s.dir = b.TempDir()
		s.c = &clock{}
		s.c.set(t0)
		d, err := Open(s.dir, Options{Logger: quietLogger(), Now: s.c.Now})
		if err != nil {
			b.Fatal(err)
		}
		s.d = d
		if i > 0 {
			n := historySizes(b)[i-1]
			start := time.Now()
			buildHistory(b, d, s.c, n)
			fmt.Fprintf(os.Stderr, "%s: built in %v\n", s.name, time.Since(start).Round(time.Millisecond))
		}
		liveState(b, s.d, s.c)
		// The first operations after a restart, once: they reclaim the
		// tasks "old" held.
		s.reopen(b)
		start := time.Now()
		if _, err := timeouts(s); err != nil {
			b.Fatal(err)
		}
		fire := time.Since(start)
		start = time.Now()
		claimed, _, err := s.d.ClaimTasks(ctx, "new", s.c.now(), s.c.now()+3_600_000, 100)
		if err != nil || len(claimed) != 10 {
			b.Fatalf("%s: reclaimed %d of 10 after a restart: %v", s.name, len(claimed), err)
		}
		fmt.Fprintf(os.Stderr, "%s: after a restart, the first Timeouts took %v, the first ClaimTasks (reclaiming 10 tasks) %v\n", s.name, fire, time.Since(start))
	}
	b.Cleanup(func() {
		for _, s := range stores {
			s.d.Close()
		}
	})
	type opFunc func(b *testing.B, s *benchStore, m *opMetrics)
	ops := []struct {
		name string
		fn   opFunc
	}{
		{"timer", benchTimer},
		{"idle", benchIdle},
		{"get", func(b *testing.B, s *benchStore, m *opMetrics) {
			m.time("get", func() error { _, err := s.d.GetPromise(ctx, "live-get"); return err })
		}},
		{"task", benchTask},
		{"heartbeat", func(b *testing.B, s *benchStore, m *opMetrics) {
			m.time("heartbeat", func() error { return s.d.Heartbeat(ctx, "new", s.c.now()+3_600_000+int64(s.seq)) })
		}},
	}
	// Every warm round first: a restart forgets what scans learnt of the
	// stretches of tombstones (floors.gaps), which a store that runs keeps.
	for _, mode := range []string{"warm", "restart"} {
		for round := range 3 {
			for _, op := range ops {
				for _, s := range stores {
					b.Run(fmt.Sprintf("%s/%s/%s/round=%d", op.name, mode, s.name, round+1), func(b *testing.B) {
						m := &opMetrics{b: b}
						for range b.N {
							s.seq++
							if mode == "restart" {
								s.reopen(b)
							}
							op.fn(b, s, m)
						}
						m.report()
					})
				}
			}
		}
	}
}

// benchTimer creates a timer due at the next ms, moves the clock on and
// fires it.
func benchTimer(b *testing.B, s *benchStore, m *opMetrics) {
	id := fmt.Sprintf("bench-timer-%d", s.seq)
	m.time("create", func() error {
		_, _, err := s.d.CreatePromise(ctx, store.Create{ID: id, Timeout: s.c.now() + 1})
		return err
	})
	s.c.set(s.c.now() + 1)
	m.time("fire", func() error {
		settled, err := timeouts(s)
		if err == nil && (len(settled) != 1 || settled[0].ID != id) {
			err = fmt.Errorf("Timeouts settled %d, want %s", len(settled), id)
		}
		return err
	})
}

// timeouts calls Timeouts as the host's timer loop does: again at once
// while it says something may be due (a scan reads a bounded slice of
// tombstones).
func timeouts(s *benchStore) ([]store.Promise, error) {
	var all []store.Promise
	for {
		settled, _, next, err := s.d.Timeouts(ctx, s.c.now(), 1000, "", 0)
		if err != nil {
			return nil, err
		}
		all = append(all, settled...)
		if len(settled) < 1000 && (next == 0 || next > s.c.now()) {
			return all, nil
		}
	}
}

// benchIdle asks for due timers and ready tasks when there are none: the
// scans of the timer and task loops, which write nothing (no fsync).
func benchIdle(b *testing.B, s *benchStore, m *opMetrics) {
	m.time("timeouts", func() error {
		settled, err := timeouts(s)
		if err == nil && len(settled) != 0 {
			err = fmt.Errorf("Timeouts settled %d, want none", len(settled))
		}
		return err
	})
	m.time("claim", func() error {
		// After a restart it reclaims the tasks "new" held: the same in
		// every store.
		_, _, err := s.d.ClaimTasks(ctx, "new", s.c.now(), s.c.now()+3_600_000, 100)
		return err
	})
}

// benchTask starts an execution, claims its task and settles it.
func benchTask(b *testing.B, s *benchStore, m *opMetrics) {
	id := fmt.Sprintf("bench-exec-%d", s.seq)
	m.time("start", func() error {
		_, _, err := s.d.StartExecution(ctx, store.Start{Promise: store.Create{ID: id, Timeout: store.NoTimeout}}, "", 0)
		return err
	})
	m.time("claim", func() error {
		claimed, _, err := s.d.ClaimTasks(ctx, "new", s.c.now(), s.c.now()+3_600_000, 100)
		if err == nil && !containsExec(claimed, id) {
			err = fmt.Errorf("ClaimTasks claimed %v, not %s", execs(claimed), id)
		}
		return err
	})
	m.time("settle", func() error {
		_, err := s.d.SettlePromise(ctx, store.Settle{ID: id, State: store.Resolved}, "new", s.c.now()+3_600_000)
		return err
	})
}

func containsExec(ts []store.Task, id string) bool {
	for _, t := range ts {
		if t.Exec == id {
			return true
		}
	}
	return false
}

// opMetrics sums the time of each named operation over a benchmark's
// iterations and reports each as µs per iteration.
type opMetrics struct {
	b     *testing.B
	names []string
	total map[string]time.Duration
}

func (m *opMetrics) time(name string, fn func() error) {
	start := time.Now()
	err := fn()
	d := time.Since(start)
	if err != nil {
		m.b.Fatalf("%s: %v", name, err)
	}
	if m.total == nil {
		m.total = map[string]time.Duration{}
	}
	if _, ok := m.total[name]; !ok {
		m.names = append(m.names, name)
	}
	m.total[name] += d
}

func (m *opMetrics) report() {
	for _, n := range m.names {
		m.b.ReportMetric(float64(m.total[n].Microseconds())/float64(m.b.N), n+"-µs")
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
	// Past early lie the tombstones of the timers fired before: a scan
	// reads a bounded slice of them, and says to come back at once.
	for i := 0; next != 0 && next <= c.now(); i++ {
		if s, _, next, err = d.Timeouts(ctx, c.now(), 1000, "w", c.now()+60_000); err != nil || len(s) != 0 || i > 3 {
			t.Fatalf("Timeouts (again %d) = %v, %v; want nothing more settled, in a few scans", i, s, err)
		}
	}
	if next != t0+1_000_000 {
		t.Fatalf("next = %d, want the late timer's %d", next, t0+1_000_000)
	}
	if p := get(t, d, "early"); p.State != store.RejectedTimedout {
		t.Fatalf("early is %s, want timed out", p.State)
	}
}
