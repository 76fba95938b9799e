package host

import (
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/metrics"
	"github.com/reprise-wasm/reprise/store"
)

// Stats are a host's figures for monitoring, since it started. The store
// keeps the durable ones (store.Stats: executions by state, journal bytes,
// sync latency); these are about this process.
type Stats struct {
	// Running is how many guests hold a running slot now (at most
	// Config.Workers): executing, or being prepared to.
	Running int
	// Parked is how many instances are kept in memory while their execution
	// awaits (at most Config.MaxParked); the same as Parked().
	Parked int
	// Active is how many executions a goroutine of this host drives now:
	// running, parked, or between attempts.
	Active int
	// Steps is the time guests run per step: from a guest's start, or its
	// resume after the host answered a blocking call, to its next call that
	// has to reach the store (await or await_any of a promise not known
	// settled, http, a journal write when too many entries are pending) or
	// to its end. Time inside the host — store writes and reads, waiting for
	// a promise — is not counted, so this is the guest's own latency, what
	// Config.StepTimeout bounds.
	Steps metrics.Histogram
	// Finished counts executions whose end this host wrote, by the state
	// their promise ended in (indexed by store.State): the guest's result,
	// or a rejection the host wrote for it (retries exhausted, replay
	// diverged). Settlements from outside (Settle, Cancel, a timer) are not
	// counted here; the store's counts include every execution.
	Finished [store.RejectedTimedout + 1]uint64
	// Replays counts runs that began by replaying a journal: executions
	// resumed from the store after a crash, a restart, an eviction or a
	// wake-up of a cold wait, not those that ran from their start.
	Replays uint64
	// OneCommit counts invocations through InvokeWait whose start and
	// result were written in one commit (the guest made no durable call).
	OneCommit uint64
	// Memory is the host's memory budget (Config.Budget): its limit, what
	// the host holds of it now and at most, reservations refused and
	// waiting. Compiles is the same of Config.Compiles.
	Memory, Compiles budget.Stats
}

// hostStats is what Stats reads; its writers only add atomically.
type hostStats struct {
	steps     metrics.Latencies
	finished  [store.RejectedTimedout + 1]atomic.Uint64
	oneCommit atomic.Uint64
	replays   atomic.Uint64
}

// Stats returns the host's figures. It is cheap: a few counters and one
// short lock, no store access.
func (h *Host) Stats() Stats {
	s := Stats{Running: len(h.slots), Steps: h.stats.steps.Snapshot(), OneCommit: h.stats.oneCommit.Load(), Replays: h.stats.replays.Load(),
		Memory: h.cfg.Budget.Stats(), Compiles: h.cfg.Compiles.Stats()}
	for i := range s.Finished {
		s.Finished[i] = h.stats.finished[i].Load()
	}
	h.execMu.Lock()
	s.Parked, s.Active = h.parked.Len(), len(h.active)
	h.execMu.Unlock()
	return s
}

// stepEnd ends the guest's current step, if one is under way, and counts
// its time: the guest is about to wait for the host.
func (r *run) stepEnd() {
	if !r.stepAt.IsZero() {
		r.h.stats.steps.Observe(time.Since(r.stepAt))
		r.stepAt = time.Time{}
	}
}

// stepBegin starts a step: the guest runs again.
func (r *run) stepBegin() { r.stepAt = time.Now() }

// stepResume starts a step when the last one ended: the guest goes on after
// a host call that may have waited for the store.
func (r *run) stepResume() {
	if r.stepAt.IsZero() {
		r.stepBegin()
	}
}
