package badgerstore

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func TestClaimTasks(t *testing.T) {
	d, _ := newDB(t)
	// Five ready, unclaimed tasks (ready at t0).
	for i := range 5 {
		if _, _, err := d.StartExecution(ctx, store.Start{Promise: store.Create{ID: fmt.Sprint("e", i), Timeout: store.NoTimeout}}, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	claimed, next, err := d.ClaimTasks(ctx, "w1", t0, t0+100, 3)
	if err != nil || len(claimed) != 3 || next != t0 {
		t.Fatalf("ClaimTasks(max 3) = %v, next %d, %v", claimed, next, err)
	}
	for _, tk := range claimed {
		if tk.Owner != "w1" || tk.LeaseUntil != t0+100 || tk.ReadyAt != t0 {
			t.Fatalf("claimed %+v", tk)
		}
	}
	claimed2, next, err := d.ClaimTasks(ctx, "w2", t0, t0+100_000, 10)
	if err != nil || len(claimed2) != 2 || next != 0 {
		t.Fatalf("ClaimTasks = %v, next %d, %v", claimed2, next, err)
	}
	if got := slices.Sorted(slices.Values(append(execs(claimed), execs(claimed2)...))); !slices.Equal(got, []string{"e0", "e1", "e2", "e3", "e4"}) {
		t.Fatalf("claimed %v", got)
	}
	// Nothing left before w1's leases expire; at their expiry, w2 takes them.
	if c, _, _ := d.ClaimTasks(ctx, "w2", t0+99, t0+300, 10); len(c) != 0 {
		t.Fatalf("claimed live leases: %v", c)
	}
	claimed3, _, err := d.ClaimTasks(ctx, "w2", t0+100, t0+100_000, 10)
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(execs(claimed3))), slices.Sorted(slices.Values(execs(claimed)))) {
		t.Fatalf("expired leases claimed %v, %v", execs(claimed3), err)
	}

	// Retry by the owner: unclaimed, ready later; next says when.
	e := claimed3[0].Exec
	if err := d.Retry(ctx, store.Execution{ID: e, Attempt: 2, AttemptStart: 7, LastError: "trap"}, "w2", t0+1000); err != nil {
		t.Fatal(err)
	}
	if c, next, err := d.ClaimTasks(ctx, "w3", t0+999, t0+2000, 10); err != nil || len(c) != 0 || next != t0+1000 {
		t.Fatalf("ClaimTasks before readyAt = %v, next %d, %v", c, next, err)
	}
	if c, _, err := d.ClaimTasks(ctx, "w3", t0+1000, t0+2000, 10); err != nil || !slices.Equal(execs(c), []string{e}) {
		t.Fatalf("ClaimTasks at readyAt = %v, %v", c, err)
	}
	ex, err := d.GetExecution(ctx, e)
	if err != nil || ex.Attempt != 2 || ex.AttemptStart != 7 || ex.LastError != "trap" {
		t.Fatalf("retried execution %+v, %v", ex, err)
	}
	err = d.Retry(ctx, store.Execution{ID: "missing"}, "w3", 0)
	wantErr(t, err, store.ErrNotFound)

	_, _, err = d.ClaimTasks(ctx, "", t0, t0, 1)
	wantErr(t, err, store.ErrInvalid)
}

func TestHeartbeatAndRelease(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "a", "w1")
	start(t, d, "b", "w1")
	start(t, d, "c", "w2")
	if err := d.Heartbeat(ctx, "w1", t0+90_000); err != nil {
		t.Fatal(err)
	}
	for exec, want := range map[string]int64{"a": t0 + 90_000, "b": t0 + 90_000, "c": t0 + 60_000} {
		if tk, _ := task(t, d, exec); tk.LeaseUntil != want {
			t.Fatalf("%s lease %d, want %d", exec, tk.LeaseUntil, want)
		}
	}
	// The old lease time no longer makes the task claimable.
	if c, _, _ := d.ClaimTasks(ctx, "w3", t0+60_000, t0+100_000, 10); !slices.Equal(execs(c), []string{"c"}) {
		t.Fatalf("claimed %v", execs(c))
	}

	// Release only unclaims the owner's own tasks.
	if err := d.ReleaseTasks(ctx, "w1", []string{"a", "c", "missing"}); err != nil {
		t.Fatal(err)
	}
	if tk, _ := task(t, d, "a"); tk.Owner != "" {
		t.Fatalf("released task %+v", tk)
	}
	if tk, _ := task(t, d, "c"); tk.Owner != "w3" {
		t.Fatalf("released another owner's task: %+v", tk)
	}
	// A heartbeat no longer touches the released task.
	if err := d.Heartbeat(ctx, "w1", t0+200_000); err != nil {
		t.Fatal(err)
	}
	c, _, _ := d.ClaimTasks(ctx, "w4", t0, t0+100, 10)
	if !slices.Equal(execs(c), []string{"a"}) {
		t.Fatalf("after release claimed %v", execs(c))
	}
}

func TestReopenKeepsDataAndVoidsLeases(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	clk.set(t0)
	d, err := Open(dir, Options{Now: clk.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	first := d
	t.Cleanup(func() { first.Close() })
	start(t, d, "e", "w")
	start(t, d, "f", "w")
	create(t, d, store.Create{ID: "a", Timeout: store.NoTimeout})
	if _, err := d.Suspend(ctx, store.Suspend{Exec: "f", Attempt: 1, Awaiting: []string{"a"}}, "w"); err != nil {
		t.Fatal(err)
	}
	journal := []store.Entry{entry(1, store.OpRandom, "", []byte{1, 2, 3}), entry(2, store.OpInvoke, "e.2", nil)}
	if _, err := d.Commit(ctx, store.Commit{Exec: "e", Attempt: 1, Entries: journal}, "w", t0+100); err != nil {
		t.Fatal(err)
	}
	wasm := []byte("\x00asm module")
	hash := sha(wasm)
	if err := d.PutModule(ctx, hash, wasm); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutFunction(ctx, "fn", hash, "run"); err != nil {
		t.Fatal(err)
	}
	// Lease writes are not synced on their own; Close must still keep them.
	if err := d.Heartbeat(ctx, "w", t0+500); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = d.GetPromise(ctx, "e")
	wantErr(t, err, store.ErrClosed)
	if _, err := d.ReadJournal(ctx, "e", 1); err == nil {
		t.Fatal("ReadJournal after Close succeeded")
	}

	d = openAt(t, dir, clk)
	if p := get(t, d, "e"); p.State != store.Pending {
		t.Fatalf("promise %+v", p)
	}
	if j, err := d.ReadJournal(ctx, "e", 1); err != nil || !reflect.DeepEqual(j, journal) {
		t.Fatalf("journal %+v, %v", j, err)
	}
	if f, err := d.GetFunction(ctx, "fn"); err != nil || f.Module != hash {
		t.Fatalf("function %+v, %v", f, err)
	}
	// The lease of e (held by the previous process until t0+500) is void:
	// another worker claims it at once. f stays suspended, and waking works.
	c, _, err := d.ClaimTasks(ctx, "w2", t0, t0+1000, 10)
	if err != nil || !slices.Equal(execs(c), []string{"e"}) {
		t.Fatalf("after reopen claimed %v, %v", execs(c), err)
	}
	if r := settle(t, d, store.Settle{ID: "a", State: store.Resolved}, "w2"); !slices.Equal(execs(r.Claimed), []string{"f"}) {
		t.Fatalf("woke %v", execs(r.Claimed))
	}
}
