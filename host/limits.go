package host

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// The work limits, by the names a LimitError gives them (the same as the
// tenant limits that set them in `reprise serve`).
const (
	// LimitPending bounds the pending executions of a host's store
	// (Config.MaxPending): an invocation past it is refused.
	LimitPending = "pending"
	// LimitChildren bounds the children one execution attempt invokes
	// (Config.MaxChildren).
	LimitChildren = "children"
	// LimitDepth bounds how deep invocations nest (Config.MaxDepth): a
	// top-level execution is at depth 0, its children at 1.
	LimitDepth = "depth"
)

// ErrLimit is what every LimitError is (errors.Is).
var ErrLimit = errors.New("limit reached")

// LimitError is work refused by one of the host's work limits. From the
// API it is an invocation refused at once; inside a guest, an invoke past a
// limit returns a handle whose promise is rejected with this error's text,
// and the refusal is journaled, so a replay sees the same.
type LimitError struct {
	Limit string // LimitPending, LimitChildren or LimitDepth
	Max   int    // the limit's value
	msg   string
}

func (e *LimitError) Error() string { return "limit " + e.Limit + ": " + e.msg }

// Is makes every LimitError match ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// TagDepth is the tag of a child execution's promise that says how deep it
// is: its parent's depth plus one. Top-level executions have none (depth 0).
const TagDepth = "reprise:depth"

// depthOf reads the depth of an execution from its promise's tags.
func depthOf(tags map[string]string) int {
	n, err := strconv.Atoi(tags[TagDepth])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// checkPending refuses a new execution when the store holds
// Config.MaxPending pending ones already (extra are about to be written).
// The count is the store's own figure, kept as it goes: reading it scans
// nothing. Executions started at the same moment may pass the limit
// together by a few; it bounds a flood, not an exact count.
func (h *Host) checkPending(ctx context.Context, extra int) error {
	st, err := h.store.Stats(ctx)
	if err != nil {
		// Not the caller's fault, and the store's next write says more.
		h.log.Warn("read pending executions for the pending limit", "err", err)
		return nil
	}
	if n := st.Executions[store.Pending] + uint64(extra); n >= uint64(h.cfg.MaxPending) {
		return &LimitError{Limit: LimitPending, Max: h.cfg.MaxPending, msg: fmt.Sprintf(
			"%d executions are pending, the most this host (tenant) may have; invoke again once some have finished", n)}
	}
	return nil
}

// refuseChild says why the run may not start another child now, nil when
// it may.
func (r *run) refuseChild() *LimitError {
	cfg := &r.h.cfg
	if d := r.depth + 1; d > cfg.MaxDepth {
		return &LimitError{Limit: LimitDepth, Max: cfg.MaxDepth, msg: fmt.Sprintf(
			"this child would be %d invocations deep, past the most of %d; invoke fewer levels of children", d, cfg.MaxDepth)}
	}
	if r.children >= cfg.MaxChildren {
		return &LimitError{Limit: LimitChildren, Max: cfg.MaxChildren, msg: fmt.Sprintf(
			"this execution has invoked %d children, the most one execution attempt may", r.children)}
	}
	if err := r.h.checkPending(r.ctx, len(r.pending.Starts)); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
	}
	return nil
}

// refuse settles hd as rejected with the refusal value, made at t (Unix
// ns): as it was journaled, so that a replay answers the same.
func (hd *handle) refuse(value []byte, t int64) {
	hd.settle(store.Promise{ID: hd.id, State: store.Rejected, Value: store.Value{Data: value},
		CreatedOn: t / int64(time.Millisecond), CompletedOn: t / int64(time.Millisecond)})
}
