package badgerstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/store"
)

// CreatePromise creates a promise, or returns the stored one when the request
// is an idempotent repeat (see store.Create).
func (d *DB) CreatePromise(ctx context.Context, c store.Create) (p store.Promise, created bool, err error) {
	err = d.do(ctx, func(t *tx) (err error) {
		p, created, err = t.create(c)
		return err
	})
	if err != nil {
		return store.Promise{}, false, fmt.Errorf("create promise %q: %w", c.ID, err)
	}
	return p, created, nil
}

// SettlePromise settles a promise (see store.Settle). Awaiters it wakes are
// claimed for owner until leaseUntil.
//
// A pending promise found past its timeout is first written as timed out,
// then the rule for settled promises decides. When that rule forbids the
// settlement, the timeout is still written, but the awaiters it wakes are
// left unclaimed, since the caller gets only the error.
func (d *DB) SettlePromise(ctx context.Context, s store.Settle, owner string, leaseUntil int64) (store.SettleResult, error) {
	var res store.SettleResult
	var ruleErr error
	err := d.do(ctx, func(t *tx) error {
		res, ruleErr = t.settle(s, owner, leaseUntil)
		if errors.Is(ruleErr, store.ErrForbidden) {
			return nil // keep the timeout write, if any
		}
		return ruleErr
	})
	if err == nil {
		err = ruleErr
	}
	if err != nil {
		return store.SettleResult{}, fmt.Errorf("settle promise %q: %w", s.ID, err)
	}
	return res, nil
}

// GetPromise returns a promise as it reads now (timed out if past its timeout).
func (d *DB) GetPromise(ctx context.Context, id string) (p store.Promise, err error) {
	err = d.do(ctx, func(t *tx) error {
		stored, ok, err := t.getPromise(id)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		p = stored.Effective(t.now)
		return err
	})
	if err != nil {
		return store.Promise{}, fmt.Errorf("get promise %q: %w", id, err)
	}
	return p, nil
}

func (t *tx) getPromise(id string) (p store.Promise, ok bool, err error) {
	ok, err = t.get(key(kindPromise, id), func(v []byte) (err error) {
		p, err = decodePromise(id, v)
		return err
	})
	return p, ok, err
}

func (t *tx) putPromise(p *store.Promise) { t.set(key(kindPromise, p.ID), encodePromise(p)) }

// create applies the create rules of store.Create. The promise returned is as
// it reads now.
func (t *tx) create(c store.Create) (store.Promise, bool, error) {
	if c.ID == "" {
		return store.Promise{}, false, fmt.Errorf("%w: empty promise id", store.ErrInvalid)
	}
	p, ok, err := t.getPromise(c.ID)
	if err != nil {
		return store.Promise{}, false, err
	}
	if ok {
		p = p.Effective(t.now)
		switch {
		case p.IdempotencyKeyForCreate == "" || c.IdempotencyKey != p.IdempotencyKeyForCreate:
			return store.Promise{}, false, fmt.Errorf("%w: the promise exists with another idempotency key", store.ErrConflict)
		case c.Strict && p.State != store.Pending:
			return store.Promise{}, false, fmt.Errorf("%w: the promise is already %s (strict)", store.ErrConflict, p.State)
		}
		return p, false, nil
	}
	p = store.Promise{
		ID:                      c.ID,
		State:                   store.Pending,
		Param:                   c.Param,
		Timeout:                 c.Timeout,
		IdempotencyKeyForCreate: c.IdempotencyKey,
		Tags:                    c.Tags,
		CreatedOn:               t.now,
	}
	t.putPromise(&p)
	t.set(key(kindPendingIdx, p.ID), nil)
	if p.Timeout != store.NoTimeout {
		t.set(timeKey(kindTimer, p.Timeout, p.ID), nil)
	}
	return p.Effective(t.now), true, nil
}

func validSettleState(s store.State) bool {
	return s == store.Resolved || s == store.Rejected || s == store.RejectedCanceled
}

// settle applies the settle rules of store.Settle, waking the promise's
// awaiters for owner. When the rules forbid the settlement it returns an
// ErrForbidden error; if it found the promise timed out but not yet written
// so, it has then written the timeout all the same, with the awaiters that
// wakes left unclaimed (the caller, getting an error, would not run them).
func (t *tx) settle(s store.Settle, owner string, leaseUntil int64) (store.SettleResult, error) {
	if !validSettleState(s.State) {
		return store.SettleResult{}, fmt.Errorf("%w: cannot settle to %s", store.ErrInvalid, s.State)
	}
	p, ok, err := t.getPromise(s.ID)
	if err != nil {
		return store.SettleResult{}, err
	}
	if !ok {
		return store.SettleResult{}, store.ErrNotFound
	}
	if p.State == store.Pending && t.now < p.Timeout {
		p.State, p.Value, p.IdempotencyKeyForComplete, p.CompletedOn = s.State, s.Value, s.IdempotencyKey, t.now
		claimed, err := t.completed(&p, owner, leaseUntil)
		return store.SettleResult{Promise: p, Changed: true, Claimed: claimed}, err
	}
	var claimed []store.Task
	if p.State == store.Pending { // timed out, not yet written so
		p = p.Effective(t.now)
		if !settleAllowed(&p, &s) {
			owner, leaseUntil = "", 0
		}
		if claimed, err = t.completed(&p, owner, leaseUntil); err != nil {
			return store.SettleResult{}, err
		}
	}
	if !settleAllowed(&p, &s) {
		return store.SettleResult{}, fmt.Errorf("%w: the promise is already %s", store.ErrForbidden, p.State)
	}
	return store.SettleResult{Promise: p, Claimed: claimed}, nil
}

// settleAllowed is the rule for settling an already settled promise p.
func settleAllowed(p *store.Promise, s *store.Settle) bool {
	sameKey := p.IdempotencyKeyForComplete != "" && s.IdempotencyKey == p.IdempotencyKeyForComplete
	return sameKey && !(s.Strict && s.State != p.State) || timedOut(p) && !s.Strict
}

// timedOut reports whether settled p was settled by its timeout: only then is
// CompletedOn its timeout, since settling it otherwise needs a time before.
func timedOut(p *store.Promise) bool {
	return p.State.Settled() && p.CompletedOn == p.Timeout && p.State == store.TimedOutState(p.Tags)
}

// completed writes p, newly settled, and does what settling entails: its
// timer goes, it is indexed for its purge, its awaiters wake (claimed for owner when owner is set), and if
// it is an execution's promise, that execution's task and registrations go.
func (t *tx) completed(p *store.Promise, owner string, leaseUntil int64) ([]store.Task, error) {
	t.putPromise(p)
	t.del(key(kindPendingIdx, p.ID))
	if p.Timeout != store.NoTimeout {
		t.del(timeKey(kindTimer, p.Timeout, p.ID))
	}
	if err := t.settledIndex(p); err != nil {
		return nil, err
	}
	claimed, err := t.wake(p.ID, owner, leaseUntil)
	if err != nil {
		return nil, err
	}
	isExec, err := t.has(key(kindExec, p.ID))
	if err != nil || !isExec {
		return claimed, err
	}
	t.delta.execSettled(p.State)
	if err := t.unregister(p.ID, ""); err != nil {
		return nil, err
	}
	task, ok, err := t.getTask(p.ID)
	if ok {
		t.deleteTask(&task)
	}
	return claimed, err
}
