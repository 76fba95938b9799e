package host_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// countingServer counts requests; each handler waits for delay (or the
// client to go away) before answering.
func countingServer(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// An http call whose journal entry is the 1024th pending entry triggers the
// flush inside record(), before callHTTP appended the handle to pendingHTTP;
// callHTTP's own flush then finds nothing pending and returns early, so the
// request is never sent and the guest awaits forever.
func TestHTTPAfter1023LocalStepsIsSent(t *testing.T) {
	srv, n := countingServer(t, 0)
	req := fmt.Sprintf(`{"method":"POST","url":%q}`, srv.URL+"/x")
	for _, steps := range []uint32{1022, 1023} {
		t.Run(fmt.Sprint(steps), func(t *testing.T) {
			n.Store(0)
			h := newHost(t, allowLoopbackHTTP)
			h.deployRaw("g", guestHTTPAfterSteps(steps, req))
			id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, ok := h.awaitFor(id, 5*time.Second)
			if !ok {
				t.Fatalf("after %d now() calls, the http call's execution is still %s after 5s; server saw %d requests", steps, p.State, n.Load())
			}
			if p.State != store.Resolved || n.Load() != 1 {
				t.Fatalf("got %s, %d requests", p.State, n.Load())
			}
		})
	}
}

// A trapping attempt leaves its (non-idempotent) request in flight. The next
// attempt re-issues the call at the same step: Create finds the same pending
// promise, and flush sends the request again although this process is still
// sending it (claimHTTP's result is ignored in callHTTP).
func TestRetryDoesNotResendInFlightHTTP(t *testing.T) {
	srv, n := countingServer(t, 1500*time.Millisecond)
	req := fmt.Sprintf(`{"method":"POST","url":%q}`, srv.URL+"/pay")
	h := newHost(t, allowLoopbackHTTP, func(c *host.Config) {
		c.Retry = host.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond}
	})
	h.deployRaw("g", guestHTTPThenTrap(req))
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := h.awaitFor(id, 10*time.Second)
	if !ok {
		t.Fatalf("execution still %s", p.State)
	}
	time.Sleep(200 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Fatalf("a non-idempotent request was sent %d times (once per attempt), want once", got)
	}
}

// leaveHTTPInFlight runs execution id of a guest whose request (method, a
// JSON string) to a slow server is in flight, then closes the host: the
// intent is durable, the outcome not. It returns the id and the count of
// requests the server saw.
func leaveHTTPInFlight(t *testing.T, dir, id, method string, idempotent bool) (string, *atomic.Int32) {
	t.Helper()
	srv, n := countingServer(t, 3*time.Second)
	req := fmt.Sprintf(`{"method":%s,"url":%q,"idempotent":%v}`, method, srv.URL+"/slow", idempotent)
	h := openHost(t, dir, allowLoopbackHTTP, noParking)
	h.deployRaw("g", guestHTTPAfterSteps(0, req))
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (n.Load() == 0 || h.Active(id)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() == 0 || h.Active(id) {
		t.Fatalf("setup: request sent %d, active %v", n.Load(), h.Active(id))
	}
	h.close() // graceful: the request is in flight, the execution suspended
	return id, n
}

// An execution suspended cold on an http promise has no task. If the host
// stops (or crashes) while the request is in flight, sendHTTP records no
// outcome, and nothing ever replays the execution, so recoverHTTP never runs:
// the execution hangs forever.
func TestHTTPInFlightAtShutdownIsRecovered(t *testing.T) {
	dir := t.TempDir()
	id, n := leaveHTTPInFlight(t, dir, "hx", `"GET"`, true)
	h := openHost(t, dir, allowLoopbackHTTP, noParking)
	p, ok := h.awaitFor(id, 8*time.Second)
	if !ok {
		t.Fatalf("after a restart, the execution suspended on an in-flight http request is still %s (requests sent: %d)", p.State, n.Load())
	}
}

// callHTTP marks the request in flight (claimHTTP) before its intent is
// durable. When that commit fails (here: the execution is canceled while the
// commit waits on a slow store), nothing undoes the mark: h.inflight leaks
// and WaitIdle, which waits for len(h.inflight) == 0, never returns.
func TestFailedHTTPIntentDoesNotLeakInflight(t *testing.T) {
	srv, _ := countingServer(t, 0)
	req := fmt.Sprintf(`{"method":"POST","url":%q}`, srv.URL+"/x")
	entered := make(chan struct{}, 1)
	hs := &hookStore{onCommit: func(ctx context.Context, c store.Commit) error {
		for _, cr := range c.Creates {
			if cr.ID == "lk.1" {
				select {
				case entered <- struct{}{}:
				default:
				}
				return sleepCtx(ctx, 2*time.Second)
			}
		}
		return nil
	}}
	h := openHookHost(t, t.TempDir(), hs, allowLoopbackHTTP)
	h.deployRaw("g", guestHTTPAfterSteps(0, req))
	ctx := context.Background()
	if _, err := h.Invoke(ctx, "g", nil, host.InvokeOptions{ID: "lk"}); err != nil {
		t.Fatal(err)
	}
	<-entered
	if _, err := h.Cancel(ctx, "lk"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := h.WaitIdle(wctx); err != nil {
		t.Fatalf("WaitIdle after the only execution was canceled: %v (active %v)", err, h.Active("lk"))
	}
}

// A host whose store takes no writes at start (a full disk) still opens
// and serves reads; the outbound request an earlier process left is
// recovered, and its execution finishes, once the store takes writes.
func TestHTTPRecoveryWaitsForAStoreThatTakesWrites(t *testing.T) {
	dir := t.TempDir()
	id, _ := leaveHTTPInFlight(t, dir, "full", `"POST"`, false)

	full := fmt.Errorf("%w: the disk is at its reserve (injected)", store.ErrStorageFull)
	var refused atomic.Int32
	hs := &hookStore{onSettle: func(_ context.Context, s store.Settle) error {
		if s.ID == "full.1" && refused.Add(1) <= 3 {
			return full
		}
		return nil
	}}
	h := openHookHost(t, dir, hs, allowLoopbackHTTP, noParking)
	if _, err := h.Execution(context.Background(), id); err != nil {
		t.Fatalf("a read while the store takes no writes: %v", err)
	}
	p, ok := h.awaitFor(id, 20*time.Second)
	if !ok {
		t.Fatalf("once the store takes writes, the execution is still %s", p.State)
	}
	if refused.Load() < 3 {
		t.Fatalf("the recovery's write was refused %d times, want 3: the test did not test", refused.Load())
	}
}
