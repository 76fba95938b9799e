package host_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// No step may leave an execution pending for ever because writing what it
// learned failed: each such write is retried until it lands.

var errFlaky = errors.New("the store failed this write (injected)")

// failFirst returns a hook that fails its first n calls for which match is
// true, and counts them.
func failFirst[T any](n int32, match func(T) bool) (func(context.Context, T) error, *atomic.Int32) {
	var failed atomic.Int32
	return func(_ context.Context, v T) error {
		if match(v) && failed.Add(1) <= n {
			return errFlaky
		}
		return nil
	}, &failed
}

// An http response whose settlement fails is settled on a later try.
func TestHTTPOutcomeIsRecordedAfterTheStoreFails(t *testing.T) {
	srv, _ := countingServer(t, 0)
	hook, failed := failFirst(3, func(s store.Settle) bool { return s.ID == "rec.1" })
	hs := &hookStore{onSettle: hook}
	h := openHookHost(t, t.TempDir(), hs, allowLoopbackHTTP)
	h.deployRaw("g", guestHTTPAfterSteps(0, fmt.Sprintf(`{"method":"GET","url":%q}`, srv.URL)))
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: "rec"})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor(id, 30*time.Second)
	if !ok || p.State != store.Resolved {
		t.Fatalf("after %d failed writes of the http response, the execution is %s: want it resolved once the write succeeds", failed.Load(), p.State)
	}
	if failed.Load() < 3 {
		t.Fatalf("the settlement failed %d times, want 3: the test did not test", failed.Load())
	}
}

// A task handed back after a host error is released even when the first
// releases fail: a task the host still owns is renewed by every heartbeat
// while nothing drives it.
func TestTaskGivenBackIsReleasedAfterTheStoreFails(t *testing.T) {
	commitHook, commitFailed := failFirst(1, func(c store.Commit) bool { return c.Exec == "rel" && c.Settle != nil })
	releaseHook, releaseFailed := failFirst(2, func(execs []string) bool { return slices.Contains(execs, "rel") })
	hs := &hookStore{onCommit: commitHook, onRelease: releaseHook}
	h := openHookHost(t, t.TempDir(), hs)
	h.deployRaw("g", guestNoop())
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: "rel"})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor(id, 30*time.Second)
	if !ok || p.State != store.Resolved {
		t.Fatalf("the execution is %s after its result's write failed once and the release of its task %d times: want it resumed and resolved", p.State, releaseFailed.Load())
	}
	if commitFailed.Load() < 1 || releaseFailed.Load() < 2 {
		t.Fatalf("failed %d commits and %d releases, want 1 and 2: the test did not test", commitFailed.Load(), releaseFailed.Load())
	}
}
