package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// waitGone waits until promise id is purged and returns the error a read
// of it gives then.
func waitGone(t testing.TB, h *testHost, id string) error {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := h.Get(context.Background(), id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("read %s: %v", id, err)
			}
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there long after its retention", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetentionPurgesFinishedAndKeepsWhatAPendingExecutionReplays runs,
// with a short retention, an execution that settles two of its promises
// and then waits, parked cold, on a third. A finished execution is purged
// once its period has passed, and a read of it says why it is gone, while
// the pending one's settled children, far past the period, stay: when its
// third promise settles it replays through them and resolves. Once
// finished and past its period, it goes with its children.
func TestRetentionPurgesFinishedAndKeepsWhatAPendingExecutionReplays(t *testing.T) {
	const retention = 300 * time.Millisecond
	h := newHost(t, func(c *host.Config) {
		c.Retention = retention
		c.MaxParked = -1 // every await goes cold: the wake replays
		host.SetReclaimEvery(c, time.Millisecond)
	})
	h.deployRaw("segments", guestSegments(3))
	h.deployRaw("noop", guestNoop())
	ctx := context.Background()
	id, err := h.Invoke(ctx, "segments", nil, host.InvokeOptions{ID: "seg"})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(pid string) {
		t.Helper()
		waitPromise(t, h, pid)
		if _, err := h.Settle(ctx, store.Settle{ID: pid, State: store.Resolved}); err != nil {
			t.Fatal(err)
		}
	}
	resolve(id + ".2")
	resolve(id + ".4")
	waitPromise(t, h, id+".6")

	// A finished execution, settled after the two children: once it has
	// been purged, a purge with a cut-off past the children has run.
	done, err := h.Invoke(ctx, "noop", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := h.await(done); p.State != store.Resolved {
		t.Fatalf("noop: %v", p.State)
	}
	err = waitGone(t, h, done)
	if !strings.Contains(err.Error(), "removed 300ms after they settle (retention)") {
		t.Errorf("reading a purged id says %q; want it to name the retention", err)
	}
	if _, err := h.Execution(ctx, done); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("execution of a purged id: %v", err)
	}
	for _, pid := range []string{id, id + ".2", id + ".4", id + ".6"} {
		if _, err := h.Get(ctx, pid); err != nil {
			t.Fatalf("%s, which a pending execution replays, was purged: %v", pid, err)
		}
	}

	resolve(id + ".6")
	if p := h.await(id); p.State != store.Resolved {
		t.Fatalf("the execution replayed through its old children to %v %q", p.State, p.Value.Data)
	}
	for _, pid := range []string{id, id + ".2", id + ".4", id + ".6"} {
		waitGone(t, h, pid)
	}
	st, err := h.StoreStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Purged != 2 || st.JournalBytes != 0 || st.Executions != [len(st.Executions)]uint64{} {
		t.Errorf("store after the purges: %d purged, %d journal bytes, executions %v; want 2, 0 and none", st.Purged, st.JournalBytes, st.Executions)
	}
}

// TestRetentionKeepForeverPurgesNothing checks that KeepForever keeps a
// finished execution, and that a missing id then says nothing of
// retention.
func TestRetentionKeepForeverPurgesNothing(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.Retention = host.KeepForever })
	if got := h.Retention(); got >= 0 {
		t.Fatalf("Retention() = %v, want negative (for ever)", got)
	}
	h.deployRaw("noop", guestNoop())
	id, err := h.Invoke(context.Background(), "noop", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.await(id)
	if _, err := h.Get(context.Background(), "nosuch"); err == nil || strings.Contains(err.Error(), "retention") {
		t.Fatalf("a missing id with retention off: %v", err)
	}
	if st, err := h.StoreStats(context.Background()); err != nil || st.Executions[store.Resolved] != 1 {
		t.Fatalf("stats %v, %v", st.Executions, err)
	}
}
