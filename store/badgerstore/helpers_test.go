package badgerstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// clock is a settable store clock.
type clock struct{ ms atomic.Int64 }

func (c *clock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }
func (c *clock) set(ms int64)   { c.ms.Store(ms) }
func (c *clock) now() int64     { return c.ms.Load() }

// t0 is the test clock's start, in Unix ms.
const t0 = 1_700_000_000_000

var ctx = context.Background()

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openAt opens the store in dir with clock c (the real clock when nil) and
// closes it when the test ends.
func openAt(t testing.TB, dir string, c *clock) *DB {
	t.Helper()
	opts := Options{Logger: quietLogger()}
	if c != nil {
		opts.Now = c.Now
	}
	d, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newDB opens a fresh store whose clock reads t0.
func newDB(t testing.TB) (*DB, *clock) {
	t.Helper()
	c := &clock{}
	c.set(t0)
	return openAt(t, t.TempDir(), c), c
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func create(t testing.TB, d *DB, c store.Create) store.Promise {
	t.Helper()
	p, created, err := d.CreatePromise(ctx, c)
	if err != nil || !created {
		t.Fatalf("CreatePromise(%q) = %v, %v", c.ID, created, err)
	}
	return p
}

func get(t testing.TB, d *DB, id string) store.Promise {
	t.Helper()
	p, err := d.GetPromise(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func settle(t testing.TB, d *DB, s store.Settle, owner string) store.SettleResult {
	t.Helper()
	r, err := d.SettlePromise(ctx, s, owner, t0+60_000)
	if err != nil {
		t.Fatalf("SettlePromise(%q): %v", s.ID, err)
	}
	return r
}

// start starts a top-level execution whose task owner claims.
func start(t testing.TB, d *DB, id, owner string) {
	t.Helper()
	_, created, err := d.StartExecution(ctx, store.Start{
		Promise:   store.Create{ID: id, Timeout: store.NoTimeout, IdempotencyKey: id},
		Execution: store.Execution{Function: "f", Module: "m", Entry: "run"},
	}, owner, t0+60_000)
	if err != nil || !created {
		t.Fatalf("StartExecution(%q) = %v, %v", id, created, err)
	}
}

// task returns exec's task, if any, reading inside the committer.
func task(t testing.TB, d *DB, exec string) (tk store.Task, ok bool) {
	t.Helper()
	err := d.do(ctx, func(tx *tx) (err error) {
		tk, ok, err = tx.getTask(exec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk, ok
}

func execs(tasks []store.Task) []string {
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.Exec)
	}
	return ids
}
