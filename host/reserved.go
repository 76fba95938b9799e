package host

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/reprise-wasm/reprise/store"
)

// ReservedPrefix begins the tags the host puts on the promises it makes
// (TagFunction, TagKind) and the idempotency keys it settles with. What
// carries them is trusted to be the host's own: an execution is listed by
// its function tag, an HTTP intent is recovered by its kind. So nobody
// else may write them: Host.CreatePromise refuses them (and the server
// refuses reserved idempotency keys too).
const ReservedPrefix = "reprise:"

// ErrReserved is the error for a tag or key that begins with
// ReservedPrefix, given by someone other than the host.
var ErrReserved = errors.New("reserved for the host")

// CheckReserved refuses a promise creation from outside that carries a tag
// or an idempotency key the host reserves, naming it.
func CheckReserved(c store.Create) error {
	for k := range c.Tags {
		if strings.HasPrefix(k, ReservedPrefix) {
			return fmt.Errorf("%w: tag %q: tags beginning with %q are written only by the host; use another name", ErrReserved, k, ReservedPrefix)
		}
	}
	return CheckReservedKey(c.IdempotencyKey)
}

// CheckReservedKey refuses an idempotency key from outside that the host
// reserves (it settles its own promises with such keys, and a settlement
// with the same key is taken for its own repeat).
func CheckReservedKey(key string) error {
	if strings.HasPrefix(key, ReservedPrefix) {
		return fmt.Errorf("%w: idempotency key %q: keys beginning with %q are used only by the host; use another key", ErrReserved, key, ReservedPrefix)
	}
	return nil
}

// ownIntent reports whether p, a pending promise tagged as an HTTP
// request, is one this host's guests made: its id is a step of an
// execution whose journal (of some attempt) records an http call at that
// step, for this very request. Recovery sends only those: a promise that
// carries the tag some other way (written by an older server that did not
// refuse reserved tags, or by hand) is not a request anyone asked the host
// to make.
func (h *Host) ownIntent(ctx context.Context, p store.Promise) (bool, error) {
	i := strings.LastIndexByte(p.ID, '.')
	if i <= 0 {
		return false, nil
	}
	seq, err := strconv.ParseUint(p.ID[i+1:], 10, 32)
	if err != nil {
		return false, nil
	}
	d := digest(store.OpHTTP, p.Param.Data)
	if p.IdempotencyKeyForCreate != keyOf(d) {
		return false, nil
	}
	e, err := h.store.GetExecution(ctx, p.ID[:i])
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The current attempt first: an intent of an earlier one is rare
	// (a retry that has not reached the step yet).
	for a := e.Attempt; a >= 1; a-- {
		es, err := h.store.ReadJournal(ctx, e.ID, a)
		if err != nil {
			return false, err
		}
		for _, en := range es {
			if en.Seq == uint32(seq) {
				if en.Op == store.OpHTTP && en.Child == p.ID && en.Digest == d {
					return true, nil
				}
				break
			}
		}
	}
	return false, nil
}
