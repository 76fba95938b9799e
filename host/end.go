package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/store"
)

// endReason is why a run's guest stopped. Each has one action (run.end)
// that writes what follows for the execution.
//
// Two things may say why: how the guest's call ended (it returned, trapped,
// or a host call unwound it, see run.unwind) and a stop from outside (the
// run's context cause, a *stopCause). When both do, the reason earlier in
// this list wins: a guest that returned is complete whatever else happened,
// a durable suspension stands, and a stop from outside outranks what the
// stopped guest did next (a store call failing because it was stopped is
// not a host error).
type endReason uint8

const (
	endReturned  endReason = iota // the guest returned, or exited with code 0
	endSuspended                  // suspended in the store until an awaited promise settles
	endShutdown                   // the host is closing
	endSettled                    // its promise was settled from outside (canceled, timed out)
	endNotOurs                    // its task, or the invocation's held start, is someone else's
	endFailed                     // a permanent failure: replay diverged, a limit was passed
	endStepLimit                  // the guest ran past Config.StepTimeout without awaiting
	endHostError                  // a host or store failure, not the guest's
	endTrapped                    // the guest trapped or exited with another code
	numEndReasons
)

var endReasonNames = [numEndReasons]string{
	"returned", "suspended", "shutdown", "settled from outside", "not ours",
	"failed", "over the step time limit", "host error", "trapped",
}

func (e endReason) String() string {
	if e < numEndReasons {
		return endReasonNames[e]
	}
	return fmt.Sprintf("endReason(%d)", uint8(e))
}

// stopCause stops a run from outside its guest: it is the cause of the
// run's context, and says the endReason.
type stopCause struct {
	reason endReason
	msg    string
}

func (c *stopCause) Error() string { return c.msg }

// The stops from outside.
var (
	errShutdown    = &stopCause{endShutdown, "host shutting down"}                                   // Close: the cause of Host.ctx
	errSettled     = &stopCause{endSettled, "the execution's promise was settled from outside"}      // Settle, Cancel, a timeout
	errNotOurs     = &stopCause{endNotOurs, "the invocation's execution is not this run's to write"} // InvokeWait gave up or lost the id
	errStepTimeout = &stopCause{endStepLimit, "step time limit"}                                     // the watchdog
	errSuspended   = errors.New("suspended until a promise settles")                                 // unwinds a durably suspended guest
)

// why returns the reason the run ended, from the error of the guest's call
// and the run's context cause.
func (r *run) why(err error) endReason {
	call := endTrapped
	switch {
	case err == nil, isExit(err, 0):
		call = endReturned
	case r.unwound != nil:
		call = unwoundReason(r.unwound)
	}
	stop := numEndReasons
	var sc *stopCause
	if errors.As(context.Cause(r.ctx), &sc) {
		stop = sc.reason
	}
	return min(call, stop)
}

// unwoundReason is the reason of a guest unwound by a host call with err.
func unwoundReason(err error) endReason {
	var sc *stopCause
	switch {
	case errors.Is(err, errSuspended):
		return endSuspended
	case errors.As(err, &sc):
		return sc.reason
	case errors.As(err, new(*NondeterminismError)), errors.As(err, new(*permanentError)):
		return endFailed
	case errors.Is(err, store.ErrNotOwner):
		return endNotOurs
	default:
		return endHostError
	}
}

// end turns how the guest stopped into the execution's next state: the
// action of its endReason, each independent of the others.
func (r *run) end(err error) {
	r.emitLogs() // however it ended: a trapping guest's last lines explain it
	reason := r.why(err)
	if r.unwound != nil && reason != endTrapped && reason != endStepLimit {
		err = r.unwound // what the host call said, not the engine's wrapping
	}
	switch reason {
	case endReturned:
		r.complete() // resolve or reject with the guest's outcome
	case endSuspended, endSettled:
		// Nothing to write: a settlement makes a new task, or the
		// execution is over.
	case endShutdown:
		r.shutdown() // write what may be written, hand the task back
	case endNotOurs:
		// Nothing may be written: the task is gone (settled from
		// outside) or someone else holds it, or the invocation's start
		// is not this run's.
		r.h.log.Debug("run ended: task no longer ours", "id", r.exec.ID, "err", err)
	case endFailed:
		r.reject(err.Error(), "") // no retry
	case endStepLimit:
		// A trap, even when the limit struck inside a host call.
		r.trap(err, fmt.Sprintf("the guest ran for more than %s without awaiting (the step time limit) and was stopped", r.h.cfg.StepTimeout))
	case endHostError:
		r.hostFailed(err) // the same attempt resumes later
	case endTrapped:
		r.trap(err, "") // retry or reject
	}
}

// abort carries a host call's reason out of the guest as a panic; the
// engine returns it from Call as an error wrapping it.
type abort struct{ err error }

func (a *abort) Error() string { return a.err.Error() }
func (a *abort) Unwrap() error { return a.err }

// unwind stops the guest from inside a host call: the run ends with err's
// reason (unwoundReason). It does not return.
func (r *run) unwind(err error) {
	r.unwound = err
	panic(&abort{err})
}

// NondeterminismError is a replay that diverged from the journal.
type NondeterminismError struct {
	Step           uint32
	JournalOp      store.Op
	JournalDigest  [16]byte
	GuestOp        store.Op
	GuestDigest    [16]byte
	ExecutionID    string
	JournalAttempt uint32
}

func (e *NondeterminismError) Error() string {
	what := "with other arguments"
	if e.JournalOp != e.GuestOp {
		what = "a different call"
	}
	return fmt.Sprintf("non-determinism at step %d of execution %s (attempt %d): the journal holds %s (request %x) but the guest now made %s: %s (request %x). "+
		"Replay needs the same host calls with the same arguments in the same order: the guest read something not journaled, or its input or code changed",
		e.Step, e.ExecutionID, e.JournalAttempt, e.JournalOp, e.JournalDigest[:6], what, e.GuestOp, e.GuestDigest[:6])
}

// permanentError fails an execution without retrying it.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// hostFailed hands the task back after a host or store failure, so the
// same attempt is recovered later by replay (recovery is not retry). A
// failure before InvokeWait's held start was written leaves nothing to
// recover: the caller hears of it.
func (r *run) hostFailed(err error) {
	if r.held != nil && !r.held.written() {
		r.held.dropIfHeld(err)
		return
	}
	r.h.giveBack(r.exec.ID, err)
}

// trap handles a guest that failed: it is retried as a new attempt until the
// policy gives up, then its promise rejects with the message and stack.
// msg, when not "", replaces the engine's message.
func (r *run) trap(err error, msg string) {
	m, stack := trapMessage(err)
	if r.inst != nil && isDepthOverflow(err, r.inst.guard) {
		m = fmt.Sprintf("stack overflow: the guest's calls nest deeper than the host's call stack limit of %d bytes (Config.MaxCallStack)", r.h.cfg.MaxCallStack)
	}
	if msg == "" {
		msg = m
	}
	if t := strings.TrimSpace(string(r.tail)); t != "" {
		// A Go guest's panic is on its stderr: its first line says what happened.
		first, _, _ := strings.Cut(t, "\n")
		msg += ": " + first
		stack = strings.TrimSpace(t + "\n" + stack)
	}
	if int(r.exec.Attempt) >= r.h.cfg.Retry.MaxAttempts {
		r.reject(fmt.Sprintf("attempt %d of %d failed: %s", r.exec.Attempt, r.h.cfg.Retry.MaxAttempts, msg), stack)
		return
	}
	r.h.log.Warn("attempt failed, retrying", "id", r.exec.ID, "attempt", r.exec.Attempt, "err", msg)
	r.retry(msg, stack)
}

// retry writes what the failed attempt journaled (kept for history) and
// schedules a new attempt after the policy's backoff.
func (r *run) retry(msg, stack string) {
	ctx := r.h.ctx
	if entries := r.localPrefix(); len(entries) > 0 || r.held != nil {
		// A held start is written here (a retry needs the execution), or
		// the retry is not this run's to schedule.
		if _, err := r.commit(ctx, store.Commit{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: entries}); err != nil {
			r.h.log.Warn("write journal of failed attempt", "id", r.exec.ID, "err", err)
			if r.held != nil && !r.held.written() {
				return
			}
		}
	}
	next := r.exec
	next.Attempt++
	next.AttemptStart = time.Now().UnixNano()
	next.LastError = msg
	if stack != "" {
		next.LastError += "\n" + stack
	}
	readyAt := time.Now().Add(r.h.cfg.Retry.backoff(r.exec.Attempt)).UnixMilli()
	if err := r.h.store.Retry(ctx, next, r.h.owner, readyAt); err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotOwner) {
			r.h.giveBack(r.exec.ID, fmt.Errorf("schedule retry: %w", err))
		}
		return
	}
	kick(r.h.kicks.tasks)
}

// localPrefix is what a run that gives up its pending step may still write
// of it (on shutdown, on a failed or stopped attempt): the pending entries
// before the first one of a call that makes a promise (invoke, sleep,
// promise, http). That call and every entry after it are dropped, local
// ones (now, random, await_any) included.
//
// Not all the local entries: a journal is read back as steps 1..n, and now's
// entry at step N+1 without invoke's at N is a gap no replay gets past (the
// execution could never resume).
//
// Not all the entries with their creates and starts either: that would
// start, on the way out, children and timers the run is abandoning — claimed
// by a host that is closing, or for an execution that failed — and write
// InvokeWait's held start for a caller already told the host closed.
//
// Dropping them is sound because nothing of them has escaped: a child is
// dispatched and a request sent only after the commit holding its entry
// (write ahead of effect), and a promise's id leaves the execution only
// through a durable call, which flushes it first, or a log line. So the
// store is left as a crash at this instant leaves it, which recovery must
// handle anyway: a replay answers the durable steps from the journal and the
// guest makes the dropped calls again, finding the same derived ids.
func (r *run) localPrefix() []store.Entry {
	for i, e := range r.pending.Entries {
		if e.Child != "" {
			return r.pending.Entries[:i:i]
		}
	}
	return r.pending.Entries
}

// giveBack hands an execution's task back after a failure of the host or the
// store (not of the guest), so the same attempt is run again — here or by
// another worker — after the task loop's next pass.
//
// The release itself must not fail quietly: a task this host still holds
// has its lease renewed by every heartbeat while nothing here drives it, so
// the execution would stay pending for ever. A failed release is tried
// again in the background until it is written or the host closes (a host
// that closes leaves its leases to expire).
func (h *Host) giveBack(id string, err error) {
	if errors.Is(err, errOverBudget) || errors.Is(err, budget.ErrExceeded) {
		// Not a failure: the execution waits, durably, for memory.
		h.log.Debug("execution waits for memory; it will resume", "id", id, "err", err)
	} else {
		h.log.Error("execution interrupted by a host error; it will resume", "id", id, "err", err)
	}
	rerr := h.store.ReleaseTasks(context.WithoutCancel(h.ctx), h.owner, []string{id})
	if rerr == nil || h.ctx.Err() != nil {
		return
	}
	h.log.Error("release task; retrying", "id", id, "err", rerr)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for wait := recordRetry; h.wait(wait, nil); wait = min(2*wait, recordRetryMax) {
			rerr := h.store.ReleaseTasks(h.ctx, h.owner, []string{id})
			if rerr == nil || h.ctx.Err() != nil {
				return
			}
			h.log.Warn("release task; retrying", "id", id, "err", rerr, "retry_in", wait)
		}
	}()
}

// shutdown writes the pending journal entries it may (localPrefix) and
// hands the task back, so the next start resumes the execution.
func (r *run) shutdown() {
	if r.held != nil && !r.held.written() {
		// Nothing written, nothing to resume: the caller hears the host closed.
		r.held.dropIfHeld(ErrClosed)
		return
	}
	ctx := context.Background()
	if entries := r.localPrefix(); len(entries) > 0 {
		r.h.store.Commit(ctx, store.Commit{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: entries}, r.h.owner, r.h.leaseUntil())
	}
	r.h.store.ReleaseTasks(ctx, r.h.owner, []string{r.exec.ID})
}

// complete settles the execution with the guest's outcome.
func (r *run) complete() {
	state, value := r.outcome, r.result
	if state == store.Pending {
		state = store.Resolved
	}
	r.finish(state, value, r.pending)
}

// reject rejects the execution with a host-written error. What the attempt
// had not yet made durable of its promise-making calls is dropped, with the
// steps after them (localPrefix): a failed execution starts no children and
// sends no requests after the fact.
func (r *run) reject(msg, stack string) {
	r.finish(store.Rejected, errorValue(msg, stack), store.Commit{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: r.localPrefix()})
}

// finish durably writes c (the attempt's last steps) and the settlement of
// the execution's promise in one commit, then wakes whoever awaits it.
func (r *run) finish(state store.State, value []byte, c store.Commit) {
	c.Settle = &store.Settle{ID: r.exec.ID, State: state, Value: store.Value{Data: value}, IdempotencyKey: "reprise:result"}
	res, err := r.commit(r.h.ctx, c)
	if err == nil && res.Settled != nil && int(res.Settled.State) < len(r.h.stats.finished) {
		r.h.stats.finished[res.Settled.State].Add(1)
	}
	if err != nil {
		switch {
		case errors.Is(err, store.ErrForbidden), errors.Is(err, store.ErrNotOwner):
			// settled meanwhile (canceled, timed out): nothing to write
		case r.held != nil && !r.held.written():
			// nothing written, nothing to resume: InvokeWait's caller hears why
		case r.h.ctx.Err() == nil:
			r.h.giveBack(r.exec.ID, fmt.Errorf("write result: %w", err))
		}
		return
	}
	r.afterCommit(res)
	if res.Settled != nil {
		r.h.settled(*res.Settled)
	}
}

// errorValue is the JSON rejection value the host writes.
func errorValue(msg, stack string) []byte {
	b, _ := json.Marshal(abi.Error{Message: msg, Stack: stack})
	return b
}
