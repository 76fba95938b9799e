package badgerstore

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// StartExecution creates an execution's promise and, when it is new, the
// execution and a task claimed for owner (unclaimed and ready when owner is
// ""). An idempotent repeat returns the stored promise and creates nothing.
func (d *DB) StartExecution(ctx context.Context, s store.Start, owner string, leaseUntil int64) (p store.Promise, created bool, err error) {
	err = d.do(ctx, func(t *tx) (err error) {
		p, created, _, err = t.start(s, owner, leaseUntil)
		return err
	})
	if err != nil {
		return store.Promise{}, false, fmt.Errorf("start execution %q: %w", s.Promise.ID, err)
	}
	return p, created, nil
}

// start returns the task it claimed, if any.
func (t *tx) start(s store.Start, owner string, leaseUntil int64) (store.Promise, bool, *store.Task, error) {
	e := s.Execution
	if e.ID == "" {
		e.ID = s.Promise.ID
	}
	if e.ID != s.Promise.ID {
		return store.Promise{}, false, nil, fmt.Errorf("%w: execution id %q differs from its promise's", store.ErrInvalid, e.ID)
	}
	p, created, err := t.create(s.Promise)
	if err != nil || !created {
		return p, created, nil, err
	}
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	t.set(key(kindExec, e.ID), encodeExecution(&e))
	t.delta.execs[store.Pending]++ // as stored, even when already past its timeout
	task := store.Task{Exec: e.ID, ReadyAt: t.now}
	if owner != "" {
		task.Owner, task.LeaseUntil = owner, leaseUntil
	}
	// The execution is new, so are its task's keys: should the same
	// operation end it (a result committed with its start), they are
	// dropped rather than deleted.
	if err := t.putTaskNew(task); err != nil {
		return store.Promise{}, false, nil, err
	}
	if owner == "" {
		return p, true, nil, nil
	}
	return p, true, &task, nil
}

// Commit applies an execution step all or nothing (see store.Commit). It
// fails with ErrNotOwner when the execution's task is held by another owner.
func (d *DB) Commit(ctx context.Context, c store.Commit, owner string, leaseUntil int64) (store.CommitResult, error) {
	var res store.CommitResult
	err := d.do(ctx, func(t *tx) error {
		res = store.CommitResult{}
		if c.Begin != nil {
			if c.Begin.Promise.ID != c.Exec {
				return fmt.Errorf("%w: the execution begun, %q, is not the one committed", store.ErrInvalid, c.Begin.Promise.ID)
			}
			p, created, _, err := t.start(*c.Begin, owner, leaseUntil)
			if err != nil {
				return fmt.Errorf("start execution: %w", err)
			}
			if !created { // someone else's: write nothing (start wrote nothing either)
				res.Begin = &p
				return nil
			}
		}
		if err := t.appendEntries(c.Exec, c.Attempt, owner, c.Entries); err != nil {
			return err
		}
		// The promises created here are the execution's children: they
		// stay while it is pending (see purge.go).
		for _, cr := range c.Creates {
			p, created, err := t.create(cr)
			if err != nil {
				return fmt.Errorf("create promise %q: %w", cr.ID, err)
			}
			if created && c.Exec != "" {
				t.addChild(c.Exec, cr.ID)
			}
			res.Creates = append(res.Creates, p)
		}
		for _, s := range c.Starts {
			p, created, task, err := t.start(s, owner, leaseUntil)
			if err != nil {
				return fmt.Errorf("start execution %q: %w", s.Promise.ID, err)
			}
			if created && c.Exec != "" {
				t.addChild(c.Exec, s.Promise.ID)
			}
			res.Starts = append(res.Starts, p)
			if task != nil {
				res.Claimed = append(res.Claimed, *task)
			}
		}
		if c.Settle != nil {
			sr, err := t.settle(*c.Settle, owner, leaseUntil)
			if err != nil {
				return fmt.Errorf("settle promise %q: %w", c.Settle.ID, err)
			}
			res.Settled = &sr.Promise
			res.Claimed = append(res.Claimed, sr.Claimed...)
		}
		return nil
	})
	if err != nil {
		return store.CommitResult{}, fmt.Errorf("commit execution %q: %w", c.Exec, err)
	}
	return res, nil
}

// appendEntries checks that owner may write exec's journal, then writes the
// entries of the attempt.
func (t *tx) appendEntries(exec string, attempt uint32, owner string, entries []store.Entry) error {
	if exec == "" {
		if len(entries) > 0 {
			return fmt.Errorf("%w: journal entries without an execution", store.ErrInvalid)
		}
		return nil
	}
	if err := t.checkOwner(exec, owner); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	// One key per commit, not per entry: a step costs a few bytes in a
	// shared value instead of a Badger key of its own, which is what makes a
	// journaled local step cheap. The key carries the first entry's seq, so
	// chunks sort in journal order.
	n := 0
	for i := range entries {
		n += 2 + 4 + entryFixed + 2 + len(entries[i].Child) + len(entries[i].Outcome)
	}
	v := make([]byte, 0, n)
	for i := range entries {
		v = appendChunkEntry(v, &entries[i])
	}
	k := journalKey(exec, attempt, entries[0].Seq)
	t.set(k, v)
	t.delta.journal += int64(len(k) + len(v))
	return nil
}

// GetExecution returns an execution.
func (d *DB) GetExecution(ctx context.Context, id string) (e store.Execution, err error) {
	err = d.do(ctx, func(t *tx) error {
		ok, err := t.get(key(kindExec, id), func(v []byte) (err error) {
			e, err = decodeExecution(id, v)
			return err
		})
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Execution{}, fmt.Errorf("get execution %q: %w", id, err)
	}
	return e, nil
}

// ReadJournal returns the journal of one attempt in seq order. It reads Badger
// directly, without the committer: the entries of a finished step never
// change. An empty Outcome reads back as nil.
//
// It allocates little per entry: all child ids share one string and all
// outcomes one byte slice.
func (d *DB) ReadJournal(ctx context.Context, exec string, attempt uint32) ([]store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := journalPrefix(exec, attempt)
	var (
		entries  []store.Entry
		spans    []int // per entry: start and end of its child in children, of its outcome in outcomes
		children []byte
		outcomes []byte
	)
	err := d.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			if k := item.Key(); len(k) != len(prefix)+4 {
				return fmt.Errorf("journal key %q: %w", k, errCorrupt)
			}
			err := item.Value(func(v []byte) error {
				for len(v) > 0 {
					var e store.Entry
					ev, rest, err := nextChunkEntry(v, &e)
					if err != nil {
						return err
					}
					v = rest
					child, outcome, err := decodeEntry(ev, &e)
					if err != nil {
						return err
					}
					entries = append(grow(entries, 1), e)
					cs, os := len(children), len(outcomes)
					children = append(grow(children, len(child)), child...)
					outcomes = append(grow(outcomes, len(outcome)), outcome...)
					spans = append(grow(spans, 4), cs, len(children), os, len(outcomes))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read journal of %q attempt %d: %w", exec, attempt, err)
	}
	entries, spans = sortEntries(entries, spans)
	all := string(children)
	for i := range entries {
		sp := spans[4*i : 4*i+4]
		entries[i].Child = all[sp[0]:sp[1]]
		if sp[3] > sp[2] {
			entries[i].Outcome = outcomes[sp[2]:sp[3]:sp[3]]
		}
	}
	return entries, nil
}

// Suspend parks an execution until one of s.Awaiting settles (see
// store.Suspend). It fails with ErrNotOwner when the execution's task is held
// by another owner, and with ErrNotFound when an awaited promise does not
// exist.
func (d *DB) Suspend(ctx context.Context, s store.Suspend, owner string) (resumable bool, err error) {
	if len(s.Awaiting) == 0 {
		return false, fmt.Errorf("suspend execution %q: %w: nothing to await", s.Exec, store.ErrInvalid)
	}
	err = d.do(ctx, func(t *tx) error {
		resumable = false
		if s.Exec == "" {
			return fmt.Errorf("%w: empty execution id", store.ErrInvalid)
		}
		if err := t.appendEntries(s.Exec, s.Attempt, owner, s.Entries); err != nil {
			return err
		}
		for _, id := range s.Awaiting {
			p, ok, err := t.getPromise(id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("awaited promise %q: %w", id, store.ErrNotFound)
			}
			if p.Effective(t.now).State.Settled() {
				resumable = true
				return nil // the task stays as it is
			}
		}
		// An execution whose own promise is settled (say, canceled while it
		// ran) is over: register nothing that would wake it.
		own, ok, err := t.getPromise(s.Exec)
		if err != nil {
			return err
		}
		if !ok || !own.Effective(t.now).State.Settled() {
			if err := t.register(s.Exec, s.Awaiting); err != nil {
				return err
			}
		}
		task, ok, err := t.getTask(s.Exec)
		if ok {
			t.deleteTask(&task)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("suspend execution %q: %w", s.Exec, err)
	}
	return resumable, nil
}

// Retry starts attempt e.Attempt of execution e.ID: it records e.Attempt,
// e.AttemptStart and e.LastError, and makes the task ready at readyAt,
// unclaimed. The task must exist and not be held by another owner.
func (d *DB) Retry(ctx context.Context, e store.Execution, owner string, readyAt int64) error {
	err := d.do(ctx, func(t *tx) error {
		k := key(kindExec, e.ID)
		var old store.Execution
		ok, err := t.get(k, func(v []byte) (err error) {
			old, err = decodeExecution(e.ID, v)
			return err
		})
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		task, ok, err := t.getTask(e.ID)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("%w: the execution has no task", store.ErrNotOwner)
		case task.Owner != "" && task.Owner != owner:
			return fmt.Errorf("%w: the task is held by %q", store.ErrNotOwner, task.Owner)
		}
		old.Attempt, old.AttemptStart, old.LastError = e.Attempt, e.AttemptStart, e.LastError
		t.set(k, encodeExecution(&old))
		return t.putTask(&task, store.Task{Exec: e.ID, ReadyAt: readyAt})
	})
	if err != nil {
		return fmt.Errorf("retry execution %q: %w", e.ID, err)
	}
	return nil
}

// grow makes room for n more elements, doubling the capacity when it must
// grow: append grows large slices by only 1.25×, which for a long journal
// copies the arenas several times over.
func grow[S ~[]E, E any](s S, n int) S {
	if cap(s)-len(s) < n {
		s = slices.Grow(s, max(n, cap(s)))
	}
	return s
}

// sortEntries puts entries in seq order, keeping the last written of equal
// seqs, with their spans. The host writes in order, so usually this only
// checks.
func sortEntries(entries []store.Entry, spans []int) ([]store.Entry, []int) {
	sorted := true
	for i := 1; i < len(entries) && sorted; i++ {
		sorted = entries[i-1].Seq < entries[i].Seq
	}
	if sorted {
		return entries, spans
	}
	idx := make([]int, len(entries))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return entries[idx[a]].Seq < entries[idx[b]].Seq })
	out := make([]store.Entry, 0, len(entries))
	outSpans := make([]int, 0, len(spans))
	for k, i := range idx {
		if k+1 < len(idx) && entries[idx[k+1]].Seq == entries[i].Seq {
			continue // a later write of the same seq wins
		}
		out = append(out, entries[i])
		outSpans = append(outSpans, spans[4*i:4*i+4]...)
	}
	return out, outSpans
}
