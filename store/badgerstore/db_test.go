package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func TestOpenLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir, nil)
	_, err := Open(dir, Options{Logger: quietLogger()})
	wantErr(t, err, ErrLocked)
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("error %q", err)
	}
}

func TestContextCanceled(t *testing.T) {
	d, _ := newDB(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err := d.CreatePromise(cctx, store.Create{ID: "p", Timeout: store.NoTimeout})
	wantErr(t, err, context.Canceled)
	if _, err := d.GetPromise(ctx, "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a canceled create wrote: %v", err)
	}
}

// TestGroupCommit has many goroutines write and read at once; every write
// must be there, whole, and each reader sees its own writes.
func TestGroupCommit(t *testing.T) {
	d, _ := newDB(t)
	const writers, steps = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			exec := fmt.Sprint("e", w)
			if _, _, err := d.StartExecution(ctx, store.Start{Promise: store.Create{ID: exec, Timeout: store.NoTimeout}}, "w", t0+1e6); err != nil {
				errs <- err
				return
			}
			for s := range uint32(steps) {
				child := fmt.Sprintf("%s.%d", exec, s)
				_, err := d.Commit(ctx, store.Commit{
					Exec: exec, Attempt: 1,
					Entries: []store.Entry{entry(s, store.OpPromise, child, []byte(child))},
					Creates: []store.Create{{ID: child, Timeout: store.NoTimeout, IdempotencyKey: child}},
				}, "w", t0+1e6)
				if err != nil {
					errs <- err
					return
				}
				if p, err := d.GetPromise(ctx, child); err != nil || p.IdempotencyKeyForCreate != child {
					errs <- fmt.Errorf("read own write %s: %+v, %v", child, p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		exec := fmt.Sprint("e", w)
		j, err := d.ReadJournal(ctx, exec, 1)
		if err != nil || len(j) != steps {
			t.Fatalf("%s journal has %d entries, %v", exec, len(j), err)
		}
		for s, e := range j {
			if want := fmt.Sprintf("%s.%d", exec, s); e.Child != want || string(e.Outcome) != want {
				t.Fatalf("entry %+v", e)
			}
		}
	}
}

// TestLargeBatches makes batches that exceed one transaction (many big
// operations at once) and one operation that exceeds even an empty one:
// the first must all succeed, the second fail alone, writing nothing.
func TestLargeBatches(t *testing.T) {
	d, _ := newDB(t)
	const writers = 16
	payload := bytes.Repeat([]byte{7}, 512<<10) // 16 × 512 KB per round: several transactions
	start(t, d, "huge", "w")
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range 4 {
				id := fmt.Sprintf("big%d.%d", w, i)
				if _, _, err := d.CreatePromise(ctx, store.Create{ID: id, Timeout: store.NoTimeout, Param: store.Value{Data: payload}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		// ~120,000 promises: more keys than Badger takes in one transaction.
		cs := make([]store.Create, 120_000)
		for i := range cs {
			cs[i] = store.Create{ID: fmt.Sprintf("huge.%d", i), Timeout: store.NoTimeout}
		}
		es := []store.Entry{entry(1, store.OpNow, "", []byte{1, 2, 3, 4, 5, 6, 7, 8})}
		if _, err := d.Commit(ctx, store.Commit{Exec: "huge", Attempt: 1, Entries: es, Creates: cs}, "w", t0); err == nil {
			errs <- errors.New("a commit too large for Badger succeeded")
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		for i := range 4 {
			if p := get(t, d, fmt.Sprintf("big%d.%d", w, i)); !bytes.Equal(p.Param.Data, payload) {
				t.Fatalf("%s: param of %d bytes", p.ID, len(p.Param.Data))
			}
		}
	}
	if j, err := d.ReadJournal(ctx, "huge", 1); err != nil || len(j) != 0 {
		t.Fatalf("the failed commit left %d entries, %v", len(j), err)
	}
	if _, err := d.GetPromise(ctx, "huge.1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed commit left promise huge.1: %v", err)
	}
	// The store still works.
	create(t, d, store.Create{ID: "after", Timeout: store.NoTimeout})
}

func TestCodecRoundTrip(t *testing.T) {
	ps := []store.Promise{
		{ID: "empty"},
		{
			ID: "full", State: store.RejectedCanceled, Timeout: store.NoTimeout, CreatedOn: -5, CompletedOn: 1 << 50,
			Param:                   store.Value{Headers: map[string]string{"a": "b", "": ""}, Data: []byte{}},
			Value:                   store.Value{Headers: map[string]string{"x": "y"}, Data: []byte("value")},
			IdempotencyKeyForCreate: "c", IdempotencyKeyForComplete: "d",
			Tags: map[string]string{store.TimeoutTag: "true"},
		},
	}
	for _, p := range ps {
		got, err := decodePromise(p.ID, encodePromise(&p))
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("promise round trip\n got %#v, %v\nwant %#v", got, err, p)
		}
	}
	e := store.Execution{ID: "e", Function: "f", Module: "m", Entry: "run", Parent: "p", Attempt: 3, AttemptStart: -1, LastError: "boom"}
	if got, err := decodeExecution("e", encodeExecution(&e)); err != nil || got != e {
		t.Fatalf("execution round trip %+v, %v", got, err)
	}
	// Truncated records fail cleanly.
	full := encodePromise(&ps[1])
	for i := range full {
		if _, err := decodePromise("x", full[:i]); !errors.Is(err, errCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	en := entry(5, store.OpHTTP, "child", []byte("outcome"))
	v := appendEntry(nil, &en)
	for i := range v[:entryFixed+1+len(en.Child)] {
		if _, _, err := decodeEntry(v[:i], &store.Entry{}); !errors.Is(err, errCorrupt) {
			t.Fatalf("entry truncated at %d: %v", i, err)
		}
	}
}

// TestCancelWhileQueued holds the committer busy, cancels a queued
// operation, and checks that it returns at once and never runs.
func TestCancelWhileQueued(t *testing.T) {
	d, _ := newDB(t)
	release, running := make(chan struct{}), make(chan struct{})
	go d.do(ctx, func(*tx) error {
		close(running)
		<-release
		return nil
	})
	<-running
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error)
	go func() {
		_, _, err := d.CreatePromise(cctx, store.Create{ID: "p", Timeout: store.NoTimeout})
		errc <- err
	}()
	for { // wait until it is queued
		d.mu.Lock()
		n := len(d.queue)
		d.mu.Unlock()
		if n > 0 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	wantErr(t, <-errc, context.Canceled)
	close(release)
	_, err := d.GetPromise(ctx, "p")
	wantErr(t, err, store.ErrNotFound)
}

// TestStaleIndexHealed plants index entries that name missing records (a
// bug's leftovers): the operations that meet them drop them and go on.
func TestStaleIndexHealed(t *testing.T) {
	d, _ := newDB(t)
	stale := [][]byte{timeKey(kindReady, t0, "ghost"), timeKey(kindExpiry, t0, "ghost2"), timeKey(kindTimer, t0, "ghost3")}
	err := d.do(ctx, func(tx *tx) error {
		for _, k := range stale {
			tx.set(k, nil)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := d.ClaimTasks(ctx, "w", t0+10, t0+20, 10); err != nil || len(c) != 0 {
		t.Fatalf("ClaimTasks = %v, %v", c, err)
	}
	if s, _, next, err := d.Timeouts(ctx, t0+10, 10, "", 0); err != nil || len(s) != 0 || next != 0 {
		t.Fatalf("Timeouts = %v, %d, %v", s, next, err)
	}
	err = d.do(ctx, func(tx *tx) error {
		for _, k := range stale {
			if ok, err := tx.has(k); err != nil || ok {
				return fmt.Errorf("stale key %q still there (%v)", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
