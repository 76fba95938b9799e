package badgerstore

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func entry(seq uint32, op store.Op, child string, outcome []byte) store.Entry {
	e := store.Entry{Seq: seq, Op: op, Child: child, Outcome: outcome, Time: int64(seq) * 1e9}
	e.Digest[0], e.Digest[15] = byte(seq), byte(op)
	return e
}

func TestStartExecution(t *testing.T) {
	d, _ := newDB(t)
	s := store.Start{
		Promise:   store.Create{ID: "e1", Timeout: store.NoTimeout, IdempotencyKey: "e1", Param: store.Value{Data: []byte("args")}},
		Execution: store.Execution{Function: "f", Module: "abc", Entry: "run", Parent: "", AttemptStart: 42},
	}
	p, created, err := d.StartExecution(ctx, s, "w1", t0+500)
	if err != nil || !created || p.State != store.Pending || string(p.Param.Data) != "args" {
		t.Fatalf("StartExecution = %+v, %v, %v", p, created, err)
	}
	e, err := d.GetExecution(ctx, "e1")
	want := store.Execution{ID: "e1", Function: "f", Module: "abc", Entry: "run", Attempt: 1, AttemptStart: 42}
	if err != nil || !reflect.DeepEqual(e, want) {
		t.Fatalf("GetExecution = %+v, %v", e, err)
	}
	if tk, ok := task(t, d, "e1"); !ok || tk != (store.Task{Exec: "e1", Owner: "w1", LeaseUntil: t0 + 500, ReadyAt: t0}) {
		t.Fatalf("task = %+v, %v", tk, ok)
	}

	// A repeat returns the promise and creates nothing, even after the task is gone.
	settle(t, d, store.Settle{ID: "e1", State: store.Resolved}, "")
	if _, ok := task(t, d, "e1"); ok {
		t.Fatal("settling the execution's promise left its task")
	}
	p, created, err = d.StartExecution(ctx, s, "w2", t0+500)
	if err != nil || created || p.State != store.Resolved {
		t.Fatalf("repeat = %+v, %v, %v", p, created, err)
	}
	if _, ok := task(t, d, "e1"); ok {
		t.Fatal("a repeat made a task")
	}

	s.Promise.IdempotencyKey = "other"
	_, _, err = d.StartExecution(ctx, s, "w2", t0+500)
	wantErr(t, err, store.ErrConflict)
	if !strings.Contains(err.Error(), `"e1"`) {
		t.Fatalf("error %q does not name the execution", err)
	}
	_, err = d.GetExecution(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	// Unowned: the task is ready, unclaimed.
	s.Promise = store.Create{ID: "e2", Timeout: store.NoTimeout}
	if _, _, err := d.StartExecution(ctx, s, "", 0); err != nil {
		t.Fatal(err)
	}
	if tk, ok := task(t, d, "e2"); !ok || tk.Owner != "" || tk.ReadyAt != t0 {
		t.Fatalf("unowned task = %+v, %v", tk, ok)
	}
}

func TestJournal(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "e", "w")
	// Out of order across commits and within one; seq 256 and 1<<24 check
	// that keys order numerically.
	var all []store.Entry
	for _, seqs := range [][]uint32{{3, 1, 2}, {1 << 24, 256, 4}, {0}} {
		var es []store.Entry
		for _, s := range seqs {
			var out []byte
			if s%2 == 0 {
				out = []byte{byte(s), 1, 2}
			}
			e := entry(s, store.OpNow, "", out)
			if s%3 == 0 {
				e.Child = "e." + string(rune('a'+s%26))
			}
			es = append(es, e)
		}
		all = append(all, es...)
		if _, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: es}, "w", t0+1000); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(all, func(a, b store.Entry) int { return int(a.Seq) - int(b.Seq) })
	got, err := d.ReadJournal(ctx, "e", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, all) {
		t.Fatalf("journal\n got %+v\nwant %+v", got, all)
	}
	// Attempts and executions do not mix, including one whose id extends this one's.
	for _, q := range []struct {
		exec    string
		attempt uint32
	}{{"e", 2}, {"e", 0}, {"ex", 1}, {"", 1}} {
		if got, err := d.ReadJournal(ctx, q.exec, q.attempt); err != nil || len(got) != 0 {
			t.Fatalf("ReadJournal(%q, %d) = %v, %v", q.exec, q.attempt, got, err)
		}
	}
}

func TestCommitAllOrNothing(t *testing.T) {
	tests := []struct {
		name    string
		commit  store.Commit
		wantErr error
		wantMsg string
	}{
		{
			name: "create conflicts",
			commit: store.Commit{
				Creates: []store.Create{{ID: "new", Timeout: store.NoTimeout}, {ID: "existing", Timeout: store.NoTimeout, IdempotencyKey: "other"}},
			},
			wantErr: store.ErrConflict, wantMsg: `create promise "existing"`,
		},
		{
			name: "same id twice with other keys",
			commit: store.Commit{
				Creates: []store.Create{{ID: "new", Timeout: store.NoTimeout, IdempotencyKey: "a"}, {ID: "new", Timeout: store.NoTimeout, IdempotencyKey: "b"}},
			},
			wantErr: store.ErrConflict, wantMsg: `create promise "new"`,
		},
		{
			name: "start conflicts",
			commit: store.Commit{
				Creates: []store.Create{{ID: "new", Timeout: store.NoTimeout}},
				Starts:  []store.Start{{Promise: store.Create{ID: "child", Timeout: store.NoTimeout}}, {Promise: store.Create{ID: "existing", Timeout: store.NoTimeout}}},
			},
			wantErr: store.ErrConflict, wantMsg: `start execution "existing"`,
		},
		{
			name: "settle forbidden",
			commit: store.Commit{
				Creates: []store.Create{{ID: "new", Timeout: store.NoTimeout}},
				Starts:  []store.Start{{Promise: store.Create{ID: "child", Timeout: store.NoTimeout}}},
				Settle:  &store.Settle{ID: "done", State: store.Rejected},
			},
			wantErr: store.ErrForbidden, wantMsg: `settle promise "done"`,
		},
		{
			name: "settle unknown",
			commit: store.Commit{
				Creates: []store.Create{{ID: "new", Timeout: store.NoTimeout}},
				Settle:  &store.Settle{ID: "unknown", State: store.Resolved},
			},
			wantErr: store.ErrNotFound, wantMsg: `settle promise "unknown"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newDB(t)
			start(t, d, "e", "w")
			create(t, d, store.Create{ID: "existing", Timeout: store.NoTimeout, IdempotencyKey: "k"})
			create(t, d, store.Create{ID: "done", Timeout: store.NoTimeout})
			settle(t, d, store.Settle{ID: "done", State: store.Resolved}, "")

			c := tt.commit
			c.Exec, c.Attempt = "e", 1
			c.Entries = []store.Entry{entry(1, store.OpPromise, "new", nil), entry(2, store.OpRandom, "", []byte{9})}
			_, err := d.Commit(ctx, c, "w", t0+1000)
			wantErr(t, err, tt.wantErr)
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if j, _ := d.ReadJournal(ctx, "e", 1); len(j) != 0 {
				t.Fatalf("journal written: %v", j)
			}
			for _, id := range []string{"new", "child"} {
				if _, err := d.GetPromise(ctx, id); err == nil {
					t.Fatalf("promise %q written", id)
				}
			}
			if _, err := d.GetExecution(ctx, "child"); err == nil {
				t.Fatal("child execution written")
			}
			if _, ok := task(t, d, "child"); ok {
				t.Fatal("child task written")
			}
			if p := get(t, d, "e"); p.State != store.Pending {
				t.Fatalf("execution promise %s", p.State)
			}
		})
	}
}

func TestCommitStartsAndSettle(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "parent", "w")
	c := store.Commit{
		Exec: "parent", Attempt: 1,
		Entries: []store.Entry{entry(1, store.OpInvoke, "parent.1", nil), entry(2, store.OpSleep, "parent.2", nil)},
		Creates: []store.Create{{ID: "parent.2", Timeout: t0 + 100, IdempotencyKey: "parent.2", Tags: map[string]string{store.TimeoutTag: "true"}}},
		Starts: []store.Start{{
			Promise:   store.Create{ID: "parent.1", Timeout: store.NoTimeout, IdempotencyKey: "parent.1"},
			Execution: store.Execution{Function: "child", Module: "m", Entry: "run", Parent: "parent"},
		}},
	}
	res, err := d.Commit(ctx, c, "w", t0+1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Creates) != 1 || res.Creates[0].ID != "parent.2" || len(res.Starts) != 1 || res.Starts[0].ID != "parent.1" || res.Settled != nil {
		t.Fatalf("result %+v", res)
	}
	if want := []store.Task{{Exec: "parent.1", Owner: "w", LeaseUntil: t0 + 1000, ReadyAt: t0}}; !reflect.DeepEqual(res.Claimed, want) {
		t.Fatalf("claimed %+v", res.Claimed)
	}
	if e, err := d.GetExecution(ctx, "parent.1"); err != nil || e.Parent != "parent" || e.Attempt != 1 {
		t.Fatalf("child execution %+v, %v", e, err)
	}

	// Replaying the same step (e.g. after a crash) finds everything and makes nothing new.
	res, err = d.Commit(ctx, c, "w", t0+1000)
	if err != nil || len(res.Claimed) != 0 || len(res.Starts) != 1 || len(res.Creates) != 1 {
		t.Fatalf("replayed commit = %+v, %v", res, err)
	}
	if tk, _ := task(t, d, "parent.1"); tk.Owner != "w" {
		t.Fatalf("replay re-claimed the child task: %+v", tk)
	}

	// The parent awaits its child; the child's final commit settles its
	// promise, which ends the child and wakes the parent for the committer.
	if resumable, err := d.Suspend(ctx, store.Suspend{Exec: "parent", Attempt: 1, Awaiting: []string{"parent.1"}}, "w"); err != nil || resumable {
		t.Fatalf("Suspend = %v, %v", resumable, err)
	}
	res, err = d.Commit(ctx, store.Commit{
		Exec: "parent.1", Attempt: 1,
		Settle: &store.Settle{ID: "parent.1", State: store.Resolved, Value: store.Value{Data: []byte("42")}, IdempotencyKey: "parent.1"},
	}, "w", t0+2000)
	if err != nil {
		t.Fatal(err)
	}
	if res.Settled == nil || res.Settled.State != store.Resolved || string(res.Settled.Value.Data) != "42" {
		t.Fatalf("settled %+v", res.Settled)
	}
	if want := []store.Task{{Exec: "parent", Owner: "w", LeaseUntil: t0 + 2000, ReadyAt: t0}}; !reflect.DeepEqual(res.Claimed, want) {
		t.Fatalf("claimed %+v", res.Claimed)
	}
	if _, ok := task(t, d, "parent.1"); ok {
		t.Fatal("the finished child kept its task")
	}
}

func TestSuspendAndWake(t *testing.T) {
	d, clk := newDB(t)
	start(t, d, "e", "w")
	create(t, d, store.Create{ID: "a", Timeout: store.NoTimeout})
	create(t, d, store.Create{ID: "b", Timeout: store.NoTimeout})
	create(t, d, store.Create{ID: "sleep", Timeout: t0 + 100, Tags: map[string]string{store.TimeoutTag: "true"}})

	resumable, err := d.Suspend(ctx, store.Suspend{
		Exec: "e", Attempt: 1, Awaiting: []string{"a", "b", "a"},
		Entries: []store.Entry{entry(1, store.OpPromise, "a", nil), entry(2, store.OpPromise, "b", nil)},
	}, "w")
	if err != nil || resumable {
		t.Fatalf("Suspend = %v, %v", resumable, err)
	}
	if j, _ := d.ReadJournal(ctx, "e", 1); len(j) != 2 {
		t.Fatalf("journal %v", j)
	}
	if _, ok := task(t, d, "e"); ok {
		t.Fatal("a suspended execution kept its task")
	}
	if claimed, _, _ := d.ClaimTasks(ctx, "x", t0+1e6, t0+1e6, 10); len(claimed) != 0 {
		t.Fatalf("claimed a suspended execution: %v", claimed)
	}

	r := settle(t, d, store.Settle{ID: "b", State: store.Resolved}, "w2")
	if want := []store.Task{{Exec: "e", Owner: "w2", LeaseUntil: t0 + 60_000, ReadyAt: t0}}; !reflect.DeepEqual(r.Claimed, want) {
		t.Fatalf("woken %+v", r.Claimed)
	}
	// Waking dropped the other registration: settling a wakes nobody.
	if r := settle(t, d, store.Settle{ID: "a", State: store.Resolved}, "w3"); len(r.Claimed) != 0 {
		t.Fatalf("second settlement woke %v", r.Claimed)
	}
	if tk, _ := task(t, d, "e"); tk.Owner != "w2" {
		t.Fatalf("task %+v", tk)
	}

	// Awaiting a settled promise: resumable, the task stays.
	resumable, err = d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1, Awaiting: []string{"sleep", "a"}}, "w2")
	if err != nil || !resumable {
		t.Fatalf("Suspend on settled = %v, %v", resumable, err)
	}
	if _, ok := task(t, d, "e"); !ok {
		t.Fatal("resumable Suspend dropped the task")
	}

	// A timer wakes a sleeper; an effective timeout counts as settled.
	if resumable, err := d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1, Awaiting: []string{"sleep"}}, "w2"); err != nil || resumable {
		t.Fatalf("Suspend on sleep = %v, %v", resumable, err)
	}
	clk.set(t0 + 100)
	// Suspended, e has no task: its worker may write nothing more.
	_, err = d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1, Awaiting: []string{"sleep"}}, "w2")
	wantErr(t, err, store.ErrNotOwner)
	settled, claimed, _, err := d.Timeouts(ctx, t0+100, 10, "w4", t0+5000)
	if err != nil || len(settled) != 1 || settled[0].State != store.Resolved {
		t.Fatalf("Timeouts = %v, %v", settled, err)
	}
	if want := []store.Task{{Exec: "e", Owner: "w4", LeaseUntil: t0 + 5000, ReadyAt: t0 + 100}}; !reflect.DeepEqual(claimed, want) {
		t.Fatalf("timer woke %+v", claimed)
	}

	_, err = d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1, Awaiting: []string{"missing"}}, "w4")
	wantErr(t, err, store.ErrNotFound)
	_, err = d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1}, "w4")
	wantErr(t, err, store.ErrInvalid)
}

func TestWakeSkipsFinishedAndRunning(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "done", "w")
	start(t, d, "running", "w")
	create(t, d, store.Create{ID: "p", Timeout: store.NoTimeout})
	create(t, d, store.Create{ID: "q", Timeout: store.NoTimeout})
	for _, e := range []string{"done", "running"} {
		if _, err := d.Suspend(ctx, store.Suspend{Exec: e, Attempt: 1, Awaiting: []string{"p", "q"}}, "w"); err != nil {
			t.Fatal(err)
		}
	}
	// "done" is canceled from outside while suspended: its registrations go.
	settle(t, d, store.Settle{ID: "done", State: store.RejectedCanceled}, "")
	// "running" is woken by q, then p settles while it runs.
	if r := settle(t, d, store.Settle{ID: "q", State: store.Resolved}, "w"); !slices.Equal(execs(r.Claimed), []string{"running"}) {
		t.Fatalf("q woke %v", execs(r.Claimed))
	}
	if r := settle(t, d, store.Settle{ID: "p", State: store.Resolved}, "w"); len(r.Claimed) != 0 {
		t.Fatalf("p woke %v", execs(r.Claimed))
	}
	if _, ok := task(t, d, "done"); ok {
		t.Fatal("a finished execution was woken")
	}

	// A finished execution that suspends (its worker did not know yet) is
	// refused and registers nothing.
	create(t, d, store.Create{ID: "r", Timeout: store.NoTimeout})
	if _, err := d.Suspend(ctx, store.Suspend{Exec: "done", Attempt: 1, Awaiting: []string{"r"}}, "w"); !errors.Is(err, store.ErrNotOwner) {
		t.Fatalf("Suspend of a finished execution: err = %v, want ErrNotOwner", err)
	}
	err := d.do(ctx, func(tx *tx) error {
		for _, k := range [][]byte{key(kindCallback, "r"), key(kindCallback, "p"), key(kindCallback, "q"), key(kindWaiting, "done"), key(kindWaiting, "running")} {
			if ok, err := tx.has(k); err != nil || ok {
				return fmt.Errorf("registration %q left (%v)", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOwnership(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "e", "w1")
	create(t, d, store.Create{ID: "a", Timeout: store.NoTimeout})
	_, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: []store.Entry{entry(1, store.OpNow, "", []byte{1})}}, "w2", t0)
	wantErr(t, err, store.ErrNotOwner)
	_, err = d.Suspend(ctx, store.Suspend{Exec: "e", Attempt: 1, Awaiting: []string{"a"}}, "w2")
	wantErr(t, err, store.ErrNotOwner)
	err = d.Retry(ctx, store.Execution{ID: "e", Attempt: 2}, "w2", t0)
	wantErr(t, err, store.ErrNotOwner)
	if j, _ := d.ReadJournal(ctx, "e", 1); len(j) != 0 {
		t.Fatalf("a non-owner wrote the journal: %v", j)
	}
	if tk, ok := task(t, d, "e"); !ok || tk.Owner != "w1" {
		t.Fatalf("task %+v, %v", tk, ok)
	}
	if _, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: []store.Entry{entry(1, store.OpNow, "", []byte{1})}}, "w1", t0); err != nil {
		t.Fatal(err)
	}
}
