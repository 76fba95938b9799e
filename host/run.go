package host

import (
	"cmp"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/store"
)

// run is one attempt of an execution on one instance: from a fresh instance,
// through replay of the attempt's journal, to a result, a trap or a
// suspension. The guest goroutine is the only one that touches it, except
// for stop and guestSince.
type run struct {
	h       *Host
	exec    store.Execution
	input   []byte
	journal []store.Entry // the attempt's journal as loaded: replayed first
	seq     uint32        // the last sequence number used
	handles []*handle     // handles[seq-1]; nil for local steps (now, random, await_any)

	pending     store.Commit // written with the next durable step
	held        *heldStart   // InvokeWait's start, written with the first durable step; nil for other runs
	createSeqs  []uint32     // pending.Creates[i] is the promise of handle createSeqs[i]
	startSeqs   []uint32
	pendingHTTP []uint32 // http handles to send once their intent is durable

	outcome store.State // Pending until resolve or reject
	result  []byte

	ctx        context.Context
	cancel     context.CancelCauseFunc
	inst       *instance
	sys        *sandbox
	slot       bool         // holds a running slot
	guestSince atomic.Int64 // Unix ns the guest started running, 0 while it waits
	stepAt     time.Time    // when the guest's current step began (Stats.Steps); zero while it waits
	evict      chan struct{}
	parkElem   *list.Element // guarded by h.mu

	tail []byte // the end of the guest's stderr, for trap messages
	slab []byte // small outcomes are cut from it: one allocation per many steps
}

// handle is what a handle refers to: a promise this attempt created or found.
type handle struct {
	op       store.Op
	id       string
	settled  bool
	p        store.Promise // once settled
	sleepNs  int64         // for sleeps: how far virtual time moves when it settles
	advanced bool
	awaited  bool   // the guest awaited it to settlement: value() may read it
	req      []byte // for http: the request, to send it
}

type runKey struct{}

func runOf(ctx context.Context) *run { return ctx.Value(runKey{}).(*run) }

// abort unwinds the guest from inside a host call. wazero hands the panic
// back as an error wrapping it.
type abort struct{ err error }

func (a *abort) Error() string { return a.err.Error() }
func (a *abort) Unwrap() error { return a.err }

func fail(err error) { panic(&abort{err}) }

// Reasons a run stops other than returning.
var (
	errSuspended   = errors.New("suspended until a promise settles")
	errStepTimeout = errors.New("step time limit")
)

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

// execute runs one attempt of execution id, or nothing when it has finished.
func (h *Host) execute(id string, a *active) {
	if !h.acquire() {
		return
	}
	r, err := h.prepare(id, a.fresh)
	if r == nil {
		h.release()
		if f := a.fresh; f != nil && f.held != nil {
			// Failed before the guest could start, and nothing is written:
			// the caller hears why.
			f.held.dropIfHeld(fmt.Errorf("prepare execution %s: %w", id, cmp.Or(err, errNotOurs)))
			return
		}
		if err != nil && h.ctx.Err() == nil {
			h.giveBack(id, err)
		}
		return
	}
	r.slot = true
	h.mu.Lock()
	a.run = r
	if a.stopped != nil { // settled from outside while it was being prepared
		r.stop(a.stopped)
	}
	h.mu.Unlock()
	err = r.call()
	h.mu.Lock()
	a.run = nil
	h.mu.Unlock()
	r.end(err)
	if r.held != nil {
		// Ended without writing anything (say, stopped): nothing will be.
		r.held.dropIfHeld(cmp.Or(context.Cause(r.ctx), err, errNotOurs))
	}
	if r.slot {
		h.release()
	}
}

// prepare loads what an attempt needs. It returns nil when there is nothing
// to run (finished, or failed before the guest could start: then it is
// settled here).
func (h *Host) prepare(id string, f *fresh) (*run, error) {
	ctx := h.ctx
	var exec store.Execution
	var input []byte
	var journal []store.Entry
	if f != nil {
		exec, input = f.exec, f.input
	} else {
		p, err := h.store.GetPromise(ctx, id)
		if err != nil {
			return nil, err
		}
		if p.State.Settled() {
			return nil, nil
		}
		if exec, err = h.store.GetExecution(ctx, id); err != nil {
			return nil, err
		}
		input = p.Param.Data
		if journal, err = h.store.ReadJournal(ctx, id, exec.Attempt); err != nil {
			return nil, err
		}
		for i, e := range journal {
			if e.Seq != uint32(i+1) {
				return nil, fmt.Errorf("journal of %s attempt %d has step %d at position %d", id, exec.Attempt, e.Seq, i+1)
			}
		}
	}
	r := &run{h: h, exec: exec, input: input, journal: journal, evict: make(chan struct{}, 1)}
	if f != nil {
		r.held = f.held
	}
	r.pending.Exec, r.pending.Attempt = exec.ID, exec.Attempt
	r.ctx, r.cancel = context.WithCancelCause(h.ctx)
	r.ctx = context.WithValue(r.ctx, runKey{}, r)
	if exec.Module == "" {
		r.fail(fmt.Sprintf("function %q is not deployed; deploy it, then invoke again", exec.Function), "")
		return nil, nil
	}
	m, err := h.loadModule(ctx, exec.Module, exec.Entry)
	if errors.Is(err, ErrInvalidModule) { // the pinned code can never run
		r.fail(fmt.Sprintf("cannot load module of function %q: %v", exec.Function, err), "")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	in, err := h.get(ctx, m)
	if err != nil {
		return nil, err
	}
	in.sys.bind(r)
	r.sys = in.sys
	r.inst = in
	return r, nil
}

// call runs the guest's entry point.
func (r *run) call() error {
	defer r.inst.inst.Close(context.Background()) // never reused: state must not leak
	r.guestSince.Store(time.Now().UnixNano())
	r.stepBegin()
	err := r.inst.inst.Call(r.ctx, r.exec.Entry)
	r.stepEnd()
	r.guestSince.Store(0)
	return err
}

// stop ends the run from another goroutine; the guest stops at its next loop
// back-edge or host call.
func (r *run) stop(cause error) { r.cancel(cause) }

// end turns how the guest stopped into the execution's next state.
func (r *run) end(err error) {
	if err == nil {
		r.complete()
		return
	}
	var ab *abort
	var exit *engine.ExitError
	cause := context.Cause(r.ctx)
	switch {
	case errors.As(err, &ab) && errors.Is(ab.err, errSuspended):
		// Durably parked in the store; a settlement makes a new task.
	case errors.As(err, &exit) && exit.Code == 0:
		r.complete() // proc_exit(0): a normal end
	case cause == errShutdown:
		r.shutdown()
	case cause == errSettled, cause == errNotOurs:
		// Canceled or timed out from outside, or another invocation's
		// execution: nothing left to do.
	case errors.As(err, &ab) && errors.Is(ab.err, context.Canceled) && r.h.ctx.Err() != nil:
		r.shutdown()
	case errors.As(err, new(*NondeterminismError)), errors.As(err, new(*permanentError)):
		r.fail(unwrapAbort(err).Error(), "")
	case cause == errStepTimeout:
		r.trap(err, cause) // even when it struck inside a host call
	case errors.As(err, &ab) && errors.Is(ab.err, store.ErrNotOwner):
		// The task is gone (settled from outside) or someone else holds it:
		// nothing of this run may be written.
		r.h.log.Debug("run ended: task no longer ours", "id", r.exec.ID, "err", ab.err)
	case errors.As(err, &ab) && r.held != nil && !r.held.written():
		// A host or store failure before anything was written: the caller
		// of InvokeWait hears of it; there is nothing to recover.
		r.held.dropIfHeld(ab.err)
	case errors.As(err, &ab):
		// A host or store failure, not the guest's: the same attempt is
		// recovered later by replay (recovery is not retry).
		r.h.giveBack(r.exec.ID, ab.err)
	default:
		r.trap(err, cause)
	}
}

func unwrapAbort(err error) error {
	var ab *abort
	if errors.As(err, &ab) {
		return ab.err
	}
	return err
}

// trap handles a guest that failed: it is retried as a new attempt until the
// policy gives up, then its promise rejects with the message and stack.
func (r *run) trap(err, cause error) {
	msg, stack := trapMessage(err)
	if cause == errStepTimeout {
		msg = fmt.Sprintf("the guest ran for more than %s without awaiting (the step time limit) and was stopped", r.h.cfg.StepTimeout)
	}
	if t := strings.TrimSpace(string(r.tail)); t != "" {
		// A Go guest's panic is on its stderr: its first line says what happened.
		first, _, _ := strings.Cut(t, "\n")
		msg += ": " + first
		stack = strings.TrimSpace(t + "\n" + stack)
	}
	if int(r.exec.Attempt) >= r.h.cfg.Retry.MaxAttempts {
		r.fail(fmt.Sprintf("attempt %d of %d failed: %s", r.exec.Attempt, r.h.cfg.Retry.MaxAttempts, msg), stack)
		return
	}
	r.h.log.Warn("attempt failed, retrying", "id", r.exec.ID, "attempt", r.exec.Attempt, "err", msg)
	r.retry(msg, stack)
}

// trapMessage is the message and the wasm stack of how the guest failed,
// from the engine's error (see engine.Instance.Call).
func trapMessage(err error) (string, string) {
	var exit *engine.ExitError
	var trap *engine.TrapError
	var panicked *engine.HostPanicError
	switch {
	case errors.As(err, &exit):
		return fmt.Sprintf("the guest exited with code %d", exit.Code), ""
	case errors.As(err, &trap):
		msg := trap.Message
		if mem := (*engine.MemoryError)(nil); errors.As(err, &mem) {
			msg += mem.Note()
		}
		return msg, trap.Stack.String()
	case errors.As(err, &panicked):
		return panicked.Error(), panicked.Stack.String()
	}
	return err.Error(), ""
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
func (h *Host) giveBack(id string, err error) {
	h.log.Error("execution interrupted by a host error; it will resume", "id", id, "err", err)
	if rerr := h.store.ReleaseTasks(context.WithoutCancel(h.ctx), h.owner, []string{id}); rerr != nil {
		h.log.Error("release task", "id", id, "err", rerr)
	}
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

// fail rejects the execution with a host-written error. What the attempt had
// not yet made durable of its promise-making calls is dropped, with the steps
// after them (localPrefix): a failed execution starts no children and sends
// no requests after the fact.
func (r *run) fail(msg, stack string) {
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

// output receives the guest's stdout/stderr.
func (r *run) output(p []byte) {
	const tailMax = 8 << 10
	r.tail = append(r.tail, p...)
	if len(r.tail) > tailMax {
		r.tail = append(r.tail[:0], r.tail[len(r.tail)-tailMax/2:]...)
	}
	if !r.replaying() {
		r.h.log.Debug("guest output", "id", r.exec.ID, "text", strings.TrimRight(string(p[:min(len(p), 4096)]), "\n"))
	}
}

func (r *run) replaying() bool { return int(r.seq) < len(r.journal) }

// digest identifies a host call's request for the replay check.
func digest(op store.Op, parts ...[]byte) [16]byte {
	h := sha256.New()
	h.Write([]byte{byte(op)})
	for _, p := range parts {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		h.Write(n[:])
		h.Write(p)
	}
	var sum [32]byte
	var d [16]byte
	copy(d[:], h.Sum(sum[:0]))
	return d
}

// step takes the next sequence number for a journaled call. While the
// journal lasts it returns the journaled entry, after checking the guest made
// the same call; past it, nil, and the caller records a new entry.
func (r *run) step(op store.Op, d [16]byte) (uint32, *store.Entry) {
	if int(r.seq) >= r.h.cfg.MaxSteps {
		fail(&permanentError{fmt.Errorf("the execution made more than %d journaled host calls in one attempt (the step limit)", r.h.cfg.MaxSteps)})
	}
	r.seq++
	r.handles = append(r.handles, nil)
	if int(r.seq) <= len(r.journal) {
		e := &r.journal[r.seq-1]
		if e.Op != op || e.Digest != d {
			fail(&NondeterminismError{Step: r.seq, JournalOp: e.Op, JournalDigest: e.Digest, GuestOp: op, GuestDigest: d, ExecutionID: r.exec.ID, JournalAttempt: r.exec.Attempt})
		}
		return r.seq, e
	}
	return r.seq, nil
}

// newHandle makes the handle of a promise-making call at seq.
func (r *run) newHandle(seq uint32, op store.Op) *handle {
	hd := &handle{op: op, id: r.childID(seq)}
	r.handles[seq-1] = hd
	return hd
}

// record adds a new journal entry, written with the next durable step.
func (r *run) record(seq uint32, op store.Op, d [16]byte, child string, outcome []byte) {
	r.recordAt(seq, op, d, child, outcome, time.Now().UnixNano())
}

func (r *run) recordAt(seq uint32, op store.Op, d [16]byte, child string, outcome []byte, now int64) {
	r.pending.Entries = append(r.pending.Entries, store.Entry{Seq: seq, Op: op, Digest: d, Child: child, Outcome: outcome, Time: now})
	if len(r.pending.Entries) >= flushEvery {
		r.flush()
		r.stepResume()
	}
}

// flushEvery bounds the entries held in memory between durable writes.
const flushEvery = 1024

func (r *run) childID(seq uint32) string {
	return r.exec.ID + "." + strconv.FormatUint(uint64(seq), 10)
}

// flush makes every pending step durable, then starts what depended on it:
// child executions, http requests.
func (r *run) flush() {
	if len(r.pending.Entries) == 0 && len(r.pending.Creates) == 0 && len(r.pending.Starts) == 0 {
		r.sendHTTP()
		return
	}
	r.stepEnd()
	res, err := r.commit(r.ctx, r.pending)
	r.resetStep()
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			fail(&permanentError{fmt.Errorf("a step's promise id is taken by a promise made with another request (an earlier attempt invoked another function or other arguments at the same step): %w", err)})
		}
		fail(err)
	}
	timers := false
	for i, p := range res.Creates {
		hd := r.handles[r.createSeqs[i]-1]
		if p.State.Settled() {
			hd.settle(p)
		}
		timers = timers || p.Timeout != store.NoTimeout
	}
	for i, p := range res.Starts {
		if p.State.Settled() {
			r.handles[r.startSeqs[i]-1].settle(p)
		}
	}
	r.afterCommit(res)
	r.pending.Entries, r.pending.Creates, r.pending.Starts = r.pending.Entries[:0], r.pending.Creates[:0], r.pending.Starts[:0]
	r.createSeqs, r.startSeqs = r.createSeqs[:0], r.startSeqs[:0]
	if timers {
		kick(r.h.kicks.timers)
	}
	r.sendHTTP()
}

// commit writes c for the run. A held start (InvokeWait's) is written in
// the same commit, unless it is written already; if it cannot be — the id
// is taken, or the invocation was given up — nothing is written and the
// error is errNotWritten, which ends the run like a lost task.
func (r *run) commit(ctx context.Context, c store.Commit) (store.CommitResult, error) {
	hs := r.held
	if hs == nil {
		return r.h.store.Commit(ctx, c, r.h.owner, r.h.leaseUntil())
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	switch hs.state {
	case startWritten:
		return r.h.store.Commit(ctx, c, r.h.owner, r.h.leaseUntil())
	case startHeld:
	default:
		return store.CommitResult{}, errNotWritten
	}
	c.Begin = &hs.start
	res, err := r.h.store.Commit(ctx, c, r.h.owner, r.h.leaseUntil())
	switch {
	case err != nil && ctx.Err() != nil:
		return res, err // not run: the start is still held
	case err != nil:
		hs.end(startDropped, err)
		return res, err
	case res.Begin != nil:
		hs.end(startTaken, nil)
		return store.CommitResult{}, errNotWritten
	case c.Settle != nil && res.Settled != nil:
		hs.result = *res.Settled
		hs.end(startSettled, nil)
		r.h.stats.oneCommit.Add(1)
	default:
		hs.end(startWritten, nil)
	}
	if hs.start.Promise.Timeout != store.NoTimeout {
		kick(r.h.kicks.timers)
	}
	return res, nil
}

// errNotWritten is a write refused because the run's held start cannot be
// written. It is ErrNotOwner: the run ends writing nothing.
var errNotWritten = fmt.Errorf("%w: the invocation's start was not written by this run", store.ErrNotOwner)

// writeHeld writes a held start before the run waits: from then on others
// may settle what it awaits and wake it.
func (r *run) writeHeld() {
	if r.held == nil || r.held.written() {
		return
	}
	if _, err := r.commit(r.ctx, store.Commit{Exec: r.exec.ID, Attempt: r.exec.Attempt}); err != nil {
		fail(err)
	}
}

// sendHTTP sends the requests whose intent is now durable.
func (r *run) sendHTTP() {
	for _, seq := range r.pendingHTTP {
		if hd := r.handles[seq-1]; !hd.settled && r.h.claimHTTP(hd.id) {
			r.h.sendHTTP(hd.id, hd.req)
		}
	}
	r.pendingHTTP = r.pendingHTTP[:0]
}

// resetStep restarts the step clock: time spent in the host (store writes,
// replayed awaits) is not the guest's.
func (r *run) resetStep() {
	if r.guestSince.Load() != 0 {
		r.guestSince.Store(time.Now().UnixNano())
	}
}

// afterCommit dispatches the tasks a commit made ready: new children and
// awaiters of what it settled.
func (r *run) afterCommit(res store.CommitResult) {
	var started map[string]*store.Start // children just started: no need to read them back
	if len(res.Claimed) > 0 && len(r.pending.Starts) > 0 {
		started = make(map[string]*store.Start, len(r.pending.Starts))
		for i := range r.pending.Starts {
			started[r.pending.Starts[i].Execution.ID] = &r.pending.Starts[i]
		}
	}
	for _, t := range res.Claimed {
		var f *fresh
		if s := started[t.Exec]; s != nil {
			f = &fresh{exec: s.Execution, input: s.Promise.Param.Data}
		}
		r.h.dispatch(t, f)
	}
}

// outcome8 returns an 8-byte buffer for a journal outcome.
func (r *run) outcome8() []byte {
	if len(r.slab) < 8 {
		r.slab = make([]byte, 8<<10)
	}
	b := r.slab[:8:8]
	r.slab = r.slab[8:]
	return b
}

func (hd *handle) settle(p store.Promise) {
	hd.settled, hd.p = true, p
}

// check reports whether hd has settled, asking the store when it is not known.
func (r *run) check(hd *handle) bool {
	if hd.settled {
		return true
	}
	r.stepEnd()
	p, err := r.h.store.GetPromise(r.ctx, hd.id)
	r.resetStep()
	if err != nil {
		fail(fmt.Errorf("read promise %s: %w", hd.id, err))
	}
	if p.State.Settled() {
		hd.settle(p)
		return true
	}
	return false
}

// awaitAny blocks until one of hs settles and returns the one that settled
// first (by settle time; the lowest index among equals). The choice is
// journaled by the caller, so a replay makes the same one.
func (r *run) awaitAny(hs []*handle) int {
	if i := firstSettled(hs); i >= 0 {
		return i
	}
	r.flush()
	ids := make([]string, len(hs))
	for i, hd := range hs {
		ids[i] = hd.id
	}
	for {
		w := r.h.watch(ids...)
		for _, hd := range hs {
			r.check(hd)
		}
		if i := firstSettled(hs); i >= 0 {
			r.h.unwatch(w)
			return i
		}
		r.block(w, hs)
		r.h.unwatch(w)
	}
}

// firstSettled returns the index of the earliest settled handle, -1 if none.
// Looking late (a busy host) must not change the winner: two sleeps both
// over by the time anyone checks still finish in the order of their ends.
func firstSettled(hs []*handle) int {
	best := -1
	for i, hd := range hs {
		if hd.settled && (best < 0 || hd.p.CompletedOn < hs[best].p.CompletedOn) {
			best = i
		}
	}
	return best
}

// block waits for w with the instance parked in memory (hot), or suspends
// the execution durably and unwinds the guest (cold) when parking is off or
// this run is evicted to make room.
func (r *run) block(w *watcher, hs []*handle) {
	if r.h.cfg.MaxParked < 0 {
		r.suspend(w.ids)
		return
	}
	r.stepEnd()
	r.writeHeld()
	r.guestSince.Store(0)
	r.h.release()
	r.slot = false
	r.h.park(r)
	var p store.Promise
	var got bool
	select {
	case p = <-w.ch:
		got = true
	case <-r.evict:
	case <-r.ctx.Done():
	}
	r.h.unpark(r)
	if r.ctx.Err() != nil || !r.h.acquire() {
		fail(context.Cause(r.ctx))
	}
	r.slot = true
	r.guestSince.Store(time.Now().UnixNano())
	if got {
		for _, hd := range hs {
			if hd.id == p.ID && !hd.settled {
				hd.settle(p)
			}
		}
		return
	}
	r.suspend(w.ids) // evicted
}

// suspend parks the execution in the store and unwinds the guest, unless an
// awaited promise settled meanwhile: then it returns and the guest goes on.
func (r *run) suspend(ids []string) {
	r.stepEnd()
	r.writeHeld()
	resumable, err := r.h.store.Suspend(r.ctx, store.Suspend{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: r.pending.Entries, Awaiting: ids}, r.h.owner)
	if err != nil {
		fail(err)
	}
	r.pending.Entries = r.pending.Entries[:0]
	if !resumable {
		fail(errSuspended)
	}
}

// logGuest writes a guest's log line, once: not again while replaying.
func (r *run) logGuest(level int32, msg []byte) {
	if r.replaying() {
		return
	}
	l := slog.LevelInfo
	switch level {
	case abi.LogDebug:
		l = slog.LevelDebug
	case abi.LogWarn:
		l = slog.LevelWarn
	case abi.LogError:
		l = slog.LevelError
	}
	r.h.log.Log(r.ctx, l, string(msg), "execution", r.exec.ID, "function", r.exec.Function)
}
