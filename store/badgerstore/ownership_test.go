package badgerstore

import (
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// Commit checks only that no *other* owner holds the task. Once the
// execution's promise is settled from outside (canceled), its task is gone,
// and a late Commit of the (still running) execution is accepted: it writes
// its journal and starts children, claimed for the owner, of an execution
// that is over.
func TestCommitAfterExecutionSettledIsRefused(t *testing.T) {
	d, _ := newDB(t)
	start(t, d, "x", "w1")
	settle(t, d, store.Settle{ID: "x", State: store.RejectedCanceled}, "")
	res, err := d.Commit(ctx, store.Commit{Exec: "x", Attempt: 1,
		Entries: []store.Entry{entry(1, store.OpInvoke, "x.1", nil)},
		Starts: []store.Start{{Promise: store.Create{ID: "x.1", Timeout: store.NoTimeout, IdempotencyKey: "k"},
			Execution: store.Execution{Function: "f", Module: "m", Entry: "run", Parent: "x"}}},
	}, "w1", t0+60_000)
	if err == nil {
		t.Fatalf("Commit for a canceled execution succeeded and claimed %v; child promise created: %v", execs(res.Claimed), len(res.Starts) == 1)
	}
}
