package main

// Containment of work: a recursive fan-out bomb (issue 10, finding 3) ends
// with the named limit in the guest while the quiet tenant is served, and
// after a kill -9 every tenant is served again while the attacker's store
// recovers.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/client"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// bombFanOut is how many of itself each execution of the bomb invokes.
const bombFanOut = 20

// deployBomb deploys, as s's tenant, a guest that invokes itself
// bombFanOut times and awaits every child, rejecting with the first
// rejection it meets.
func deployBomb(t *testing.T, s server) *client.Client {
	t.Helper()
	c := s.client(t)
	if _, err := c.Deploy(context.Background(), "bomb", wt.Invoker("bomb", bombFanOut), ""); err != nil {
		t.Fatalf("deploy the bomb: %v", err)
	}
	return c
}

// awaitRejectedNaming waits (up to a minute) for execution id to settle and
// fails unless it was rejected with a value naming limit.
func awaitRejectedNaming(t *testing.T, c *client.Client, id, limit string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		e, err := c.ExecutionWait(ctx, id, 10*time.Second)
		if err != nil {
			t.Fatalf("await the bomb %s: %v", id, err)
		}
		p := e.Promise
		if p.State == "PENDING" {
			continue
		}
		if p.State != "REJECTED" || !strings.Contains(string(p.Value.Data), "limit "+limit+":") {
			t.Fatalf("the bomb ended %s with %s, want REJECTED naming the %s limit", p.State, p.Value.Data, limit)
		}
		t.Logf("the bomb ended: %s", p.Value.Data)
		return
	}
}

// The bomb against a tenant with at most 500 pending executions: its
// invokes past the limit get rejected promises naming it, the rejections
// come back up the tree, and the root ends rejected with the pending limit,
// while every call of the quiet tenant succeeds and the server stays under
// 512 MiB (before: 19 MiB to 2.2 GiB in 27 s, then OOM).
func TestFanOutBombEndsWithTheNamedLimit(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--pending", "500"})
	c := deployBomb(t, a.server)
	load := a.quiet.keepInvoking(t)
	inv, err := c.Invoke(context.Background(), "bomb", []byte(`{}`), client.InvokeOptions{ID: "bomb-root"})
	if err != nil {
		t.Fatalf("start the bomb: %v", err)
	}
	awaitRejectedNaming(t, c, inv.ID, "pending")
	load.requireServed(t)
	a.requirePeakUnder(t, 512<<20, "fan-out bomb under a pending limit of 500")
}

// An invocation through the API that would pass the tenant's pending limit
// is 429 naming it, and nothing of it is written; the executions it counted
// are intact.
func TestInvokePastThePendingLimitIs429(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--pending", "3"})
	c := a.client(t)
	a.ok(t, "deploy", "approval", wasm["approval"])
	var ids []string
	for i := range 3 {
		inv, err := c.Invoke(context.Background(), "approval", []byte(`{"request":"r"}`), client.InvokeOptions{ID: fmt.Sprint("wait-", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	_, err := c.Invoke(context.Background(), "approval", []byte(`{"request":"r"}`), client.InvokeOptions{ID: "fourth"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusTooManyRequests || !strings.Contains(ce.Message, "limit pending:") {
		t.Fatalf("the fourth invocation: %v, want 429 naming the pending limit", err)
	}
	if _, err := c.Promise(context.Background(), "fourth"); !client.IsNotFound(err) {
		t.Fatalf("the refused invocation was written: %v", err)
	}
	for _, id := range ids {
		if p, err := c.Promise(context.Background(), id); err != nil || p.State != "PENDING" {
			t.Fatalf("%s: %+v, %v", id, p, err)
		}
	}
	// The quiet tenant's limit is its own.
	if out := a.quiet.ok(t, "invoke", "hello", "--input", `{"name":"q"}`, "--wait"); !strings.Contains(out, "Hello, q") {
		t.Fatalf("the quiet tenant: %s", out)
	}
}

// The bomb with room to grow (1,000 pending executions), killed with
// SIGKILL in the middle: on restart the quiet tenant is served at once
// while the attacker's store recovers its backlog, the server stays under
// 768 MiB doing so (before: the quiet tenant got 503 for 15-19 s while
// leases were voided one by one, then recovery dispatched everything at
// once, ~1 GiB), the bomb goes on under its limit and ends naming it, and
// what both tenants had acknowledged is intact.
func TestBombKilledAndRestartedServesTheQuietTenantWhileTheAttackerRecovers(t *testing.T) {
	t.Parallel()
	a := startArena(t, []string{"--pending", "1000"})
	c := deployBomb(t, a.server)
	q := a.quiet.client(t)
	var before []client.Invocation
	for i := range 5 {
		inv, err := q.Invoke(context.Background(), "hello", []byte(fmt.Sprintf(`{"name":"q%d"}`, i)), client.InvokeOptions{ID: fmt.Sprint("before-", i), Wait: 30 * time.Second})
		if err != nil || inv.State != "RESOLVED" {
			t.Fatalf("quiet call before the attack: %+v, %v", inv, err)
		}
		before = append(before, inv)
	}
	inv, err := c.Invoke(context.Background(), "bomb", []byte(`{}`), client.InvokeOptions{ID: "bomb-root"})
	if err != nil {
		t.Fatalf("start the bomb: %v", err)
	}
	// Let it grow to a backlog of a few thousand executions.
	eventually(t, "the bomb has grown", func() bool {
		page, _, err := c.Executions(context.Background(), "bomb", client.Query{State: "pending", Limit: 100})
		return err == nil && len(page) == 100
	})
	time.Sleep(time.Second) // the attack's duration, not a synchronization
	if err := a.proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.proc.Wait()

	s2 := startServe(t, a.data, a.token)
	s2.guardMemory(t, hardMemoryCap)
	quiet := s2
	quiet.token = a.quiet.token
	load := quiet.keepInvoking(t)
	// The quiet tenant's acknowledged work is intact.
	q2 := quiet.client(t)
	for _, b := range before {
		again, err := q2.Invoke(context.Background(), "hello", []byte(`{}`), client.InvokeOptions{ID: b.ID, Wait: 5 * time.Second})
		if err != nil || again.State != "RESOLVED" || string(again.Value) != string(b.Value) {
			t.Fatalf("%s after the restart: %+v, %v; before: %s", b.ID, again, err, b.Value)
		}
	}
	time.Sleep(3 * time.Second) // the quiet tenant invokes while the attacker recovers
	load.requireServed(t)
	// The attacker's acknowledged bomb carries on under its limit and ends.
	awaitRejectedNaming(t, s2.client(t), inv.ID, "pending")
	s2.requirePeakUnder(t, 768<<20, "recovery of a fan-out bomb's backlog")
}
