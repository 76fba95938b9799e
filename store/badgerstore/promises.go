package badgerstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

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

// SearchPromises returns the promises that match q, in id order, and the
// cursor of the next page ("" on the last one). The cursor is the last id
// returned, base64-encoded: the next page resumes after it.
func (d *DB) SearchPromises(ctx context.Context, q store.Query) (page []store.Promise, cursor string, err error) {
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	glob := q.IDGlob
	if glob == "" {
		glob = "*"
	}
	// Only ids starting with the glob's literal prefix can match: scan those.
	prefix := key(kindPromise, glob[:strings.IndexByte(glob+"*", '*')])
	var start []byte
	if q.Cursor != "" {
		last, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("search promises: %w: malformed cursor", store.ErrInvalid)
		}
		start = append(key(kindPromise, string(last)), 0) // the first key after it
	}
	var states uint32 // bit set of store.State
	for _, s := range q.States {
		states |= 1 << s
	}
	err = d.do(ctx, func(t *tx) error {
		page, cursor = nil, ""
		return t.scan(prefix, start, func(item *badger.Item) (bool, error) {
			id := item.Key()[1:]
			if !matchGlob(glob, id) {
				return true, nil
			}
			var p store.Promise
			err := item.Value(func(v []byte) (err error) {
				p, err = decodePromise(string(id), v)
				return err
			})
			if err != nil {
				return false, err
			}
			p = p.Effective(t.now)
			if states != 0 && states&(1<<p.State) == 0 || !hasTags(p.Tags, q.Tags) {
				return true, nil
			}
			if len(page) == limit {
				// One more match exists: the page is not the last.
				cursor = base64.RawURLEncoding.EncodeToString([]byte(page[limit-1].ID))
				return false, nil
			}
			page = append(page, p)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", fmt.Errorf("search promises: %w", err)
	}
	return page, cursor, nil
}

func hasTags(tags, want map[string]string) bool {
	for k, v := range want {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// matchGlob reports whether s matches pattern, where * matches any run of
// bytes and every other byte matches itself. It backtracks only to the last
// star, so it runs in O(len(pattern)·len(s)) at worst.
func matchGlob(pattern string, s []byte) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
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
// timer goes, its awaiters wake (claimed for owner when owner is set), and if
// it is an execution's promise, that execution's task and registrations go.
func (t *tx) completed(p *store.Promise, owner string, leaseUntil int64) ([]store.Task, error) {
	t.putPromise(p)
	if p.Timeout != store.NoTimeout {
		t.del(timeKey(kindTimer, p.Timeout, p.ID))
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
