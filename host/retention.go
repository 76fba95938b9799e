package host

import (
	"errors"
	"fmt"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// Retention: finished executions and settled promises are purged once
// they have been settled for Config.Retention, journals and all (the store
// keeps what live work may still read: see store.Store's Purge). One
// goroutine, retentionLoop, does it: a pass purges everything due a slice
// at a time, pausing between slices so that live work, which goes through
// the same store committer, never waits behind more than one slice; after
// passes that purged something it has the store return the space to the
// file system (ReclaimSpace), at most every Config's reclaimEvery.

// DefaultRetention is how long finished executions and settled promises
// are kept when Config.Retention is zero.
const DefaultRetention = 7 * 24 * time.Hour

// KeepForever as Config.Retention keeps every execution and promise.
const KeepForever time.Duration = -1

const (
	// retentionSlice bounds the reads and deletions of one Purge: a few
	// hundred point operations, a millisecond or two of the committer.
	retentionSlice = 256
	// retentionPause is the pause between two slices of a pass.
	retentionPause = 10 * time.Millisecond
	// retentionPollMax bounds the time between passes; a short retention
	// (in tests) polls at a tenth of it.
	retentionPollMax = time.Minute
	// reclaimEvery is the least time between two ReclaimSpace calls: each
	// flushes and compacts the store, worth it only for what purges freed
	// over a while. It also keeps a short-lived host (one CLI command)
	// from reclaiming at all.
	reclaimEvery = time.Hour
)

// Retention is how long this host keeps finished executions and settled
// promises; negative means for ever.
func (h *Host) Retention() time.Duration { return h.cfg.Retention }

// RetentionNote says, for a reader of a missing id, what retention removes
// and when; "" when the host keeps everything.
func RetentionNote(retention time.Duration) string {
	if retention < 0 {
		return ""
	}
	return fmt.Sprintf("finished executions and settled promises are removed %s after they settle", formatRetention(retention))
}

// formatRetention writes a retention in days or hours when it is whole.
func formatRetention(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= day && d%day == 0:
		if d == day {
			return "1 day"
		}
		return fmt.Sprintf("%d days", d/day)
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// notFound adds what retention removes to a store's not-found error, so
// that a reader of a purged id learns why it is gone.
func (h *Host) notFound(err error) error {
	if note := RetentionNote(h.cfg.Retention); note != "" && errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w; %s (retention)", err, note)
	}
	return err
}

// retentionLoop purges what is past the retention period, pass after pass,
// until the host closes. It runs only when the host purges at all.
func (h *Host) retentionLoop() {
	poll := min(max(h.cfg.Retention/10, 10*time.Millisecond), retentionPollMax)
	lastReclaim := time.Now()
	freed := 0 // promises purged since the last reclaim
	for {
		n, ok := h.purgePass()
		if !ok {
			return
		}
		freed += n
		if freed > 0 && time.Since(lastReclaim) >= h.cfg.reclaimEvery {
			if err := h.store.ReclaimSpace(h.ctx); err != nil && h.ctx.Err() == nil {
				h.log.Error("reclaim the space of purged executions", "err", err)
			}
			lastReclaim, freed = time.Now(), 0
		}
		if !h.wait(poll, nil) {
			return
		}
	}
}

// purgePass purges everything settled before now minus the retention, a
// slice at a time, and returns how many promises went; ok is false once
// the host is closing.
func (h *Host) purgePass() (purged int, ok bool) {
	before := h.nowMs() - h.cfg.Retention.Milliseconds()
	for {
		n, more, err := h.store.Purge(h.ctx, before, retentionSlice)
		purged += n
		if err != nil {
			if h.ctx.Err() != nil {
				return purged, false
			}
			h.log.Error("purge executions past their retention; trying again later", "err", err)
			return purged, true
		}
		if !more {
			if purged > 0 {
				h.log.Info("purged executions and promises past their retention", "promises", purged, "retention", h.cfg.Retention)
			}
			return purged, true
		}
		if !h.wait(retentionPause, nil) {
			return purged, false
		}
	}
}
