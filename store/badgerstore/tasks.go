package badgerstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// A task is stored at t/exec and indexed by whether it is claimed: an
// unclaimed one in r/readyAt/exec (by when it can be claimed), a claimed one
// in o/owner/exec. A claimed task has no lease of its own: its lease is its
// owner's (see leases.go), so renewing every lease an owner holds is one
// write, however many tasks it holds. ClaimTasks reads only claimable
// tasks: the ready ones, and those of owners whose lease has lapsed.

// getTask reads exec's task; a claimed task's LeaseUntil is its owner's
// lease.
func (t *tx) getTask(exec string) (task store.Task, ok bool, err error) {
	ok, err = t.get(key(kindTask, exec), func(v []byte) (err error) {
		task, err = decodeTask(exec, v)
		return err
	})
	if err != nil || !ok || task.Owner == "" {
		return task, ok, err
	}
	if until, found, err := t.ownerLease(task.Owner); err != nil {
		return task, ok, err
	} else if found {
		task.LeaseUntil = until
	}
	return task, ok, nil
}

func taskIndexKey(task *store.Task) []byte {
	if task.Owner == "" {
		return timeKey(kindReady, task.ReadyAt, task.Exec)
	}
	return ownerKey(task.Owner, task.Exec)
}

// putTask writes task, replacing old (nil if there is none) and its index
// key. A claimed task makes sure its owner holds a lease until at least
// task.LeaseUntil.
func (t *tx) putTask(old *store.Task, task store.Task) error {
	if old != nil {
		t.del(taskIndexKey(old))
	}
	t.set(key(kindTask, task.Exec), encodeTask(&task))
	t.set(taskIndexKey(&task), nil)
	return t.claimedFor(&task)
}

// putTaskNew writes the task of an execution created in this operation:
// none of its keys can exist yet.
func (t *tx) putTaskNew(task store.Task) error {
	t.setNew(key(kindTask, task.Exec), encodeTask(&task))
	t.setNew(taskIndexKey(&task), nil)
	return t.claimedFor(&task)
}

// claimedFor extends the lease of a claimed task's owner to the task's
// LeaseUntil, and forgets where a reclaim of that owner's tasks had got to:
// the task may sort before it.
func (t *tx) claimedFor(task *store.Task) error {
	if task.Owner == "" {
		return nil
	}
	t.floors.forgetOwner(task.Owner)
	return t.extendLease(task.Owner, task.LeaseUntil)
}

func (t *tx) deleteTask(old *store.Task) {
	t.del(key(kindTask, old.Exec))
	t.del(taskIndexKey(old))
}

// newTask makes a task for exec, ready now: claimed for owner until
// leaseUntil, or unclaimed when owner is "".
func (t *tx) newTask(exec, owner string, leaseUntil int64) (store.Task, error) {
	task := store.Task{Exec: exec, ReadyAt: t.now}
	if owner != "" {
		task.Owner, task.LeaseUntil = owner, leaseUntil
	}
	return task, t.putTask(nil, task)
}

// checkOwner fails unless owner holds exec's task: only the worker running an
// execution may write its steps. Without a task the execution has finished
// or is suspended, and a late writer (a run canceled from outside, a worker
// that lost its lease) must not start children or send requests for it.
func (t *tx) checkOwner(exec, owner string) error {
	task, ok, err := t.getTask(exec)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: execution %q has no task (it has finished or is suspended)", store.ErrNotOwner, exec)
	}
	if task.Owner != owner {
		return fmt.Errorf("%w: the task of execution %q is held by %q", store.ErrNotOwner, exec, task.Owner)
	}
	return nil
}

// Callbacks. A suspended execution X awaiting promises P1..Pn is recorded
// twice: c/Pi lists X for each i, and w/X lists P1..Pn. Settling Pi reads
// c/Pi; waking X then removes it from the other lists through w/X, so an
// execution is registered only while it is suspended, and no stale callback
// wakes it later. Both are point reads: no scan on the settle path.

func (t *tx) getList(k []byte) (ids []string, err error) {
	_, err = t.get(k, func(v []byte) (err error) {
		ids, err = decodeList(v)
		return err
	})
	return ids, err
}

func (t *tx) putList(k []byte, ids []string) {
	if len(ids) == 0 {
		t.del(k)
		return
	}
	t.set(k, encodeList(ids))
}

// register records that exec awaits each of promises.
func (t *tx) register(exec string, promises []string) error {
	if err := t.unregister(exec, ""); err != nil {
		return err
	}
	var ids []string
	for _, p := range promises {
		if slices.Contains(ids, p) {
			continue
		}
		ids = append(ids, p)
		k := key(kindCallback, p)
		execs, err := t.getList(k)
		if err != nil {
			return err
		}
		if !slices.Contains(execs, exec) {
			t.putList(k, append(execs, exec))
		}
	}
	t.putList(key(kindWaiting, exec), ids)
	return nil
}

// unregister removes exec's registrations, except from the callback list of
// promise skip, which the caller deletes whole.
func (t *tx) unregister(exec, skip string) error {
	wk := key(kindWaiting, exec)
	promises, err := t.getList(wk)
	if err != nil || len(promises) == 0 {
		return err
	}
	for _, p := range promises {
		if p == skip {
			continue
		}
		k := key(kindCallback, p)
		execs, err := t.getList(k)
		if err != nil {
			return err
		}
		t.putList(k, slices.DeleteFunc(execs, func(x string) bool { return x == exec }))
	}
	t.del(wk)
	return nil
}

// wake turns the callbacks of a settled promise into ready tasks, claimed
// for owner (unclaimed when owner is ""), and returns the claimed ones. An
// execution that already has a task, or whose own promise is settled, needs
// none.
func (t *tx) wake(promise, owner string, leaseUntil int64) ([]store.Task, error) {
	k := key(kindCallback, promise)
	execs, err := t.getList(k)
	if err != nil || len(execs) == 0 {
		return nil, err
	}
	t.del(k)
	var claimed []store.Task
	for _, exec := range execs {
		if err := t.unregister(exec, promise); err != nil {
			return nil, err
		}
		if _, ok, err := t.getTask(exec); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		p, ok, err := t.getPromise(exec)
		if err != nil {
			return nil, err
		}
		if !ok || p.Effective(t.now).State.Settled() {
			continue
		}
		task, err := t.newTask(exec, owner, leaseUntil)
		if err != nil {
			return nil, err
		}
		if owner != "" {
			claimed = append(claimed, task)
		}
	}
	return claimed, nil
}

// indexHit is an entry of a time index (timers, ready and lease), read by a
// scan.
type indexHit struct {
	key []byte
	at  int64
	id  string
}

// maxWalk bounds the keys one scan of an index reads, tombstones and older
// versions included. Tombstones can lie between live entries — promises
// settled long before their timeout, tasks an owner finished before it
// died — and a scan reads such a stretch a slice at a time, one slice per
// operation, so that no operation holds the committer for long however
// long the stretch.
const maxWalk = 4096

// walker follows a scanVersions scan: which versions are live, and how
// many keys the scan may still read.
type walker struct {
	left int
	last []byte // the key of the version read before
}

func newWalker() walker { return walker{left: maxWalk} }

// read counts item against the budget and reports whether it is the
// newest version of its key, the one that says whether the key is live;
// an older one says nothing.
func (w *walker) read(item *badger.Item) (newest bool) {
	w.left--
	k := item.Key()
	if bytes.Equal(k, w.last) {
		return false
	}
	w.last = append(w.last[:0], k...)
	return true
}

// live reports whether item is the newest version of a key and not a
// tombstone; it counts item against the budget.
func (w *walker) live(item *badger.Item) bool {
	return w.read(item) && !item.IsDeletedOrExpired()
}

// spent reports whether the scan has read all it may.
func (w *walker) spent() bool { return w.left <= 0 }

// scanIndex returns the entries of a time index with at <= until, up to
// max, and next: the time of the first entry it left, 0 when none. It
// starts at the index's floor (see floors), past the tombstones of entries
// deleted before, and raises the floor to the first entry it finds; it
// seeks past the stretches of tombstones scans found before (floors.gaps),
// and records those it finds. It reads at most maxWalk keys: one
// that stops there returns as next the time it got to, at or before the
// first entry left, so that its caller comes back then (at once, when
// that is due).
func (t *tx) scanIndex(kind byte, until int64, max int) (hits []indexHit, next int64, err error) {
	first, seen := int64(0), false
	reached, cut := int64(0), false // the time of the last key read; whether maxWalk stopped the scan
	w := newWalker()
	var dead []byte // the first key of the stretch of tombstones being read
	ended := true   // the scan read to the end of the index
	err = t.scanVersions([]byte{kind}, timeKey(kind, t.floors.of(kind), ""), func(item *badger.Item) ([]byte, bool, error) {
		k := item.Key()
		if to := t.floors.past(kind, k); to != nil {
			if dead == nil {
				dead = bytes.Clone(k)
			}
			w.left--
			return to, true, nil
		}
		at, id, err := splitTimeKey(k)
		if err != nil {
			return nil, false, err
		}
		switch {
		case !w.read(item):
			// An older version of the key before, live or not.
		case item.IsDeletedOrExpired():
			if dead == nil {
				dead = bytes.Clone(k)
			}
		default:
			if dead != nil {
				t.floors.found(kind, gap{dead, bytes.Clone(k)})
				dead = nil
			}
			if !seen {
				first, seen = at, true
			}
			if at > until || len(hits) >= max {
				next, ended = at, false
				return nil, false, nil
			}
			hits = append(hits, indexHit{item.KeyCopy(nil), at, id})
		}
		reached = at
		if w.spent() {
			if dead != nil {
				t.floors.found(kind, gap{dead, append(bytes.Clone(k), 0)})
			}
			next, cut, ended = at, true, false
			return nil, false, nil
		}
		return nil, true, nil
	})
	if err != nil {
		return nil, 0, err
	}
	if ended && dead != nil {
		t.floors.found(kind, gap{dead, []byte{kind + 1}}) // to the end of the index
	}
	switch {
	case seen:
		t.floors.raise(kind, first, true)
	case cut:
		// It read only tombstones, up to where it got.
		t.floors.raise(kind, reached, true)
	default:
		t.floors.raise(kind, 0, false)
	}
	return hits, next, nil
}

// staleIndex drops an index entry whose record is missing or does not match.
// That is a bug, but one to log and heal, not to fail on forever.
func (t *tx) staleIndex(h indexHit) {
	t.log.Warn("dropping a stale index entry", "key", fmt.Sprintf("%q", h.key))
	t.del(h.key)
}

// ClaimTasks claims up to max ready tasks for owner: unclaimed ones with
// ReadyAt <= now, then those of owners whose lease has lapsed (LeaseUntil <=
// now), a slice of at most what is left of max: so reclaiming the tasks of
// an owner that died costs in proportion to them, spread over as many
// operations as it takes. next is the earliest ReadyAt among the unclaimed
// tasks it left (at or before now when max cut it short, or when lapsed
// owners hold more), 0 when none.
func (d *DB) ClaimTasks(ctx context.Context, owner string, now, leaseUntil int64, max int) (claimed []store.Task, next int64, err error) {
	if owner == "" {
		return nil, 0, fmt.Errorf("claim tasks: %w: empty owner", store.ErrInvalid)
	}
	err = d.do(ctx, func(t *tx) error {
		claimed = nil
		ready, nextReady, err := t.scanIndex(kindReady, now, max)
		if err != nil {
			return err
		}
		next = nextReady
		var orphans []orphanTask
		var lapsed []lapsedOwner
		if room := max - len(ready); room > 0 {
			var more bool
			orphans, lapsed, more, err = t.scanLapsed(now, room)
			if err != nil {
				return err
			}
			if more { // lapsed owners may hold more: claimable now
				next = earliest(next, now)
			}
		}
		// claim takes the task of exec for owner when its stored owner is
		// from (the index entry h said so); a mismatch is a stale entry.
		claim := func(exec, from string, h indexHit) error {
			task, ok, err := t.getTask(exec)
			if err != nil {
				return err
			}
			if !ok || task.Owner != from || (from == "" && h.at != task.ReadyAt) {
				t.staleIndex(h)
				return nil
			}
			nt := store.Task{Exec: exec, Owner: owner, LeaseUntil: leaseUntil, ReadyAt: task.ReadyAt}
			if err := t.putTask(&task, nt); err != nil {
				return err
			}
			claimed = append(claimed, nt)
			return nil
		}
		for _, h := range ready {
			if err := claim(h.id, "", h); err != nil {
				return err
			}
		}
		for _, o := range orphans {
			if err := claim(o.exec, o.owner, indexHit{key: ownerKey(o.owner, o.exec), id: o.exec}); err != nil {
				return err
			}
		}
		for _, l := range lapsed {
			switch {
			case l.stale:
				t.staleIndex(indexHit{key: timeKey(kindExpiry, l.until, l.owner), at: l.until, id: l.owner})
			case l.owner == owner:
				// It reclaimed its own tasks: its lease was just renewed.
			default:
				t.dropLease(l.owner, l.until)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("claim tasks: %w", err)
	}
	return claimed, next, nil
}

// earliest is the earlier of two times, where 0 means none.
func earliest(a, b int64) int64 {
	if a == 0 {
		return b
	}
	return min(a, b)
}

// Heartbeat renews owner's lease, and with it the lease of every task it
// holds, until leaseUntil: one write, however many tasks it holds.
func (d *DB) Heartbeat(ctx context.Context, owner string, leaseUntil int64) error {
	if owner == "" {
		return fmt.Errorf("heartbeat: %w: empty owner", store.ErrInvalid)
	}
	err := d.do(ctx, func(t *tx) error {
		t.floors.forgetOwner(owner)
		return t.setLease(owner, leaseUntil)
	})
	if err != nil {
		return fmt.Errorf("heartbeat %q: %w", owner, err)
	}
	return nil
}

// ReleaseTasks unclaims owner's tasks of execs, making them ready again.
// Tasks that are gone or held by another owner are left alone.
func (d *DB) ReleaseTasks(ctx context.Context, owner string, execs []string) error {
	err := d.do(ctx, func(t *tx) error {
		for _, exec := range execs {
			task, ok, err := t.getTask(exec)
			if err != nil {
				return err
			}
			if ok && task.Owner == owner && owner != "" {
				if err := t.putTask(&task, store.Task{Exec: exec, ReadyAt: task.ReadyAt}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release tasks of %q: %w", owner, err)
	}
	return nil
}

// Timeouts settles up to max pending promises whose timeout is <= now, as
// timed out (see store.TimedOutState) at their timeout. next is the earliest
// timeout left, 0 when none.
func (d *DB) Timeouts(ctx context.Context, now int64, max int, owner string, leaseUntil int64) (settled []store.Promise, claimed []store.Task, next int64, err error) {
	err = d.do(ctx, func(t *tx) error {
		settled, claimed = nil, nil
		due, n, err := t.scanIndex(kindTimer, now, max)
		if err != nil {
			return err
		}
		next = n
		for _, h := range due {
			p, ok, err := t.getPromise(h.id)
			if err != nil {
				return err
			}
			if !ok || p.State != store.Pending || p.Timeout != h.at {
				t.staleIndex(h)
				continue
			}
			p.State, p.CompletedOn, p.Value = store.TimedOutState(p.Tags), p.Timeout, store.Value{}
			woken, err := t.completed(&p, owner, leaseUntil)
			if err != nil {
				return err
			}
			settled = append(settled, p)
			claimed = append(claimed, woken...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("timeouts: %w", err)
	}
	return settled, claimed, next, nil
}

// voidLegacyLeases unclaims the tasks of a store written before leases
// were their owners' (each claimed task then had an l/leaseUntil/exec
// entry). Open runs it before the committer starts, with the committer's
// machinery, in rounds that each fit a transaction; once a store has been
// opened by this version there are no such entries, and it reads nothing.
func (d *DB) voidLegacyLeases() (int, error) {
	const round = 2000
	total := 0
	for {
		n, next := 0, int64(0)
		err := d.runAlone(func(t *tx) error {
			leased, left, err := t.scanIndex(kindLegacyLease, math.MaxInt64, round)
			next = left
			if err != nil {
				return err
			}
			for _, h := range leased {
				t.del(h.key)
				task, ok, err := t.getTask(h.id)
				if err != nil {
					return err
				}
				if !ok || task.Owner == "" {
					continue
				}
				t.del(ownerKey(task.Owner, h.id))
				t.set(key(kindTask, h.id), encodeTask(&store.Task{Exec: h.id, ReadyAt: task.ReadyAt}))
				t.set(timeKey(kindReady, task.ReadyAt, h.id), nil)
			}
			n = len(leased)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if next == 0 { // none left (a full round, or tombstones, leave one)
			return total, nil
		}
	}
}

// runAlone runs fn as one operation and commits it, before the committer
// starts.
func (d *DB) runAlone(fn func(t *tx) error) error {
	b := &batch{db: d.bdb, stats: &d.stats}
	t := &tx{log: d.log, index: make(map[string]int), floors: &d.floors, places: map[string][]byte{}}
	b.begin()
	t.reset(b.txn, d.nowMs())
	err := runOp(fn, t)
	if err == nil {
		err, _ = b.apply(t)
	}
	if err != nil {
		b.discard()
		return err
	}
	if err := b.finish(); err != nil {
		return err
	}
	t.succeeded()
	return nil
}
