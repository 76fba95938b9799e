package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// TestStatsCountFinishedStepsAndParked runs executions that resolve, that
// fail for good and that wait on a promise, and checks what Stats reports
// of each, and that the store's counters agree with a scan.
func TestStatsCountFinishedStepsAndParked(t *testing.T) {
	h := newHost(t, func(c *host.Config) { c.Retry.MaxAttempts = 1 })
	ctx := context.Background()
	h.deployRaw("echo", rawEcho())
	h.deployRaw("trap", guestTrap())
	h.deployRaw("wait", guestPromiseAwait(0))

	for i := range 5 {
		if p := h.run("echo", fmt.Sprint(i), host.InvokeOptions{}); p.State != store.Resolved {
			t.Fatalf("echo: %s %s", p.State, p.Value.Data)
		}
	}
	for range 2 {
		if p := h.run("trap", nil, host.InvokeOptions{}); p.State != store.Rejected {
			t.Fatalf("trap: %s %s", p.State, p.Value.Data)
		}
	}
	waiting := make([]string, 3)
	for i := range waiting {
		id, err := h.Invoke(ctx, "wait", nil, host.InvokeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waiting[i] = id
		waitPromise(t, h, id+".1")
	}
	// Let every waiting guest reach its await and park.
	deadline := time.Now().Add(10 * time.Second)
	for h.Stats().Parked < len(waiting) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	s := h.Stats()
	if s.Parked != len(waiting) || s.Parked != h.Parked() || s.Active < len(waiting) {
		t.Fatalf("parked %d (Parked() %d), active %d; want %d waiting", s.Parked, h.Parked(), s.Active, len(waiting))
	}
	if s.Finished[store.Resolved] != 5 || s.Finished[store.Rejected] != 2 {
		t.Fatalf("finished by state %v, want 5 resolved and 2 rejected", s.Finished)
	}
	// Every run ended a step: the echoes and traps at their end, the waiting
	// ones at their await.
	if s.Steps.Count < 10 || s.Steps.Sum <= 0 || len(s.Steps.Counts) != len(s.Steps.Bounds)+1 {
		t.Fatalf("steps: %+v, want at least 10", s.Steps)
	}
	var sum uint64
	for _, n := range s.Steps.Counts {
		sum += n
	}
	if sum != s.Steps.Count {
		t.Fatalf("step buckets hold %d, Count says %d", sum, s.Steps.Count)
	}

	// Cancel the waiting ones: the store counts them, the host does not
	// (it did not write their end), and they no longer park.
	for _, id := range waiting {
		if _, err := h.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for h.Stats().Parked > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s = h.Stats()
	if s.Parked != 0 || s.Finished[store.RejectedCanceled] != 0 {
		t.Fatalf("after cancel: parked %d, finished %v", s.Parked, s.Finished)
	}
	st, err := h.store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := [5]uint64{store.Resolved: 5, store.Rejected: 2, store.RejectedCanceled: 3}
	if st.Executions != want {
		t.Fatalf("store executions by state %v, want %v", st.Executions, want)
	}
	scan, err := h.store.CountByScan(ctx)
	if err != nil || scan.Executions != st.Executions || scan.JournalBytes != st.JournalBytes {
		t.Fatalf("store counters %v/%d, a scan %v/%d (%v)", st.Executions, st.JournalBytes, scan.Executions, scan.JournalBytes, err)
	}
	if st.JournalBytes == 0 || st.Syncs.Count == 0 {
		t.Fatalf("store: %d journal bytes, %d syncs", st.JournalBytes, st.Syncs.Count)
	}
}
