package host

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/store"
)

// run is one attempt of an execution on one instance: from a fresh instance,
// through replay of the attempt's journal, to a result, a trap or a
// suspension. The goroutine that drives its execution (and runs its guest)
// is the only one that touches it, except for stop, guestSince and evict.
type run struct {
	h        *Host
	act      *active // the execution as driven here
	exec     store.Execution
	input    []byte
	journal  []store.Entry // the attempt's journal as loaded: replayed first
	seq      uint32        // the last sequence number used
	depth    int           // how deep the execution is: 0 for a top-level one (TagDepth)
	children int           // the children this attempt invoked so far, replayed ones too (Config.MaxChildren)
	handles  []*handle     // handles[seq-1]; nil for local steps (now, random, await_any)

	pending     store.Commit // written with the next durable step
	held        *heldStart   // InvokeWait's start, written with the first durable step; nil for other runs
	createSeqs  []uint32     // pending.Creates[i] is the promise of handle createSeqs[i]
	startSeqs   []uint32
	pendingHTTP []uint32 // http handles to send once their intent is durable

	outcome store.State // Pending until resolve or reject
	result  []byte

	ctx     context.Context // canceled with a *stopCause to stop the run from outside
	cancel  context.CancelCauseFunc
	unwound error // why a host call unwound the guest (unwind); nil if none did
	inst    *instance
	sys     *sandbox
	slot    bool // holds a running slot
	// guestSince is when the guest started running (Unix ns), 0 while it
	// waits: the watchdog reads it to enforce Config.StepTimeout.
	guestSince atomic.Int64
	stepAt     time.Time     // when the guest's current step began (Stats.Steps); zero while it waits
	evict      chan struct{} // sent to by park when this run is evicted from memory while parked

	// reserved is what the run holds of the memory budget: its running
	// reservation, or its instance's idle size while parked (memory.go).
	reserved int64
	// parkedHeld is reserved while parked, for evictParked (which runs on
	// another goroutine); 0 otherwise.
	parkedHeld atomic.Int64
	// pendingBytes counts the bytes of pending's entries and arguments:
	// past flushBytes they are written, as past flushEvery entries.
	pendingBytes int

	tail     []byte      // the end of the guest's stderr, for trap messages
	logBytes int64       // guest log text of this attempt so far, replayed calls included (logBudget)
	logs     []guestLine // log lines held back until the steps before them are durable (emitLogs)
	outBytes int64       // guest stdout and stderr of this attempt so far, likewise
	slab     []byte      // small outcomes are cut from it: one allocation per many steps
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
	// unkept says p's value was too large to keep (keptValueMax): value()
	// reads it from the store, where a settled value never changes.
	unkept bool
}

// keptValueMax is the largest settled value a handle keeps in memory. A
// run may hold a thousand children's handles, each value up to the payload
// limit: kept, they were up to a GiB per run outside every budget.
const keptValueMax = 4 << 10

type runKey struct{}

func runOf(ctx context.Context) *run { return ctx.Value(runKey{}).(*run) }

// execute runs one pass of execution a: takes a slot, prepares the
// attempt, runs the guest and writes what follows from its end. It runs
// nothing when the execution has finished, or when the host is closing.
func (h *Host) execute(a *active) {
	// Memory first, then a slot: a run waiting for memory holds no slot of
	// its own, so the runs that hold memory can always finish or park. (A
	// slot dispatch took for it waits with it: the memory it waits for is
	// held by runs that hold slots too, or is given back under pressure.)
	reserved, ok := h.reserveRun(a)
	if !ok {
		if a.slot {
			a.slot = false
			h.giveSlot()
		}
		return // the host is closing: still queued, drive ends it
	}
	if a.slot {
		a.slot = false // taken by dispatch
	} else if !h.takeSlot() {
		h.cfg.Budget.Release(reserved)
		return // still queued: drive ends it
	}
	h.execMu.Lock()
	h.setState(a, execPreparing)
	h.execMu.Unlock()
	r, err := h.prepare(a.id, a.fresh)
	if r != nil {
		r.reserved = reserved
		if err = r.fitModule(r.inst.inst.(*use).m); err != nil {
			r.inst.inst.Close(h.ctx)
			r.cancel(errRunOver)
			reserved, r = r.reserved, nil
		}
	}
	if r == nil {
		h.cfg.Budget.Release(reserved)
		h.execMu.Lock()
		h.setState(a, execEnding)
		h.execMu.Unlock()
		h.giveSlot()
		if f := a.fresh; f != nil && f.held != nil {
			// Failed before the guest could start, and nothing is written:
			// the caller hears why.
			f.held.dropIfHeld(fmt.Errorf("prepare execution %s: %w", a.id, cmp.Or[error](err, errNotOurs)))
			return
		}
		if err != nil && h.ctx.Err() == nil {
			h.giveBack(a.id, err)
		}
		return
	}
	r.slot, r.act = true, a
	h.execMu.Lock()
	a.run = r
	h.setState(a, execRunning)
	if a.stopped != nil { // settled from outside while it was being prepared
		r.stop(a.stopped)
	}
	h.execMu.Unlock()
	err = r.call()
	h.execMu.Lock()
	a.run = nil
	h.setState(a, execEnding)
	h.execMu.Unlock()
	r.end(err)
	if r.held != nil {
		// Ended without writing anything (say, stopped): nothing will be.
		r.held.dropIfHeld(cmp.Or[error](context.Cause(r.ctx), err, errNotOurs))
	}
	// A run's context is a child of the host's: until it is canceled, the
	// host's context holds it (and the Done channel the engine made), so a
	// host that ran a million executions held a million of them.
	r.cancel(errRunOver)
	if r.slot {
		h.giveSlot()
	}
	h.cfg.Budget.Release(r.reserved)
}

// prepare loads what an attempt needs. It returns nil when there is nothing
// to run (finished, or failed before the guest could start: then it is
// settled here).
func (h *Host) prepare(id string, f *fresh) (*run, error) {
	ctx := h.ctx
	var exec store.Execution
	var input []byte
	var journal []store.Entry
	depth := 0
	if f != nil {
		exec, input, depth = f.exec, f.input, f.depth
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
		input, depth = p.Param.Data, depthOf(p.Tags)
		if journal, err = h.store.ReadJournal(ctx, id, exec.Attempt); err != nil {
			return nil, err
		}
		for i, e := range journal {
			if e.Seq != uint32(i+1) {
				return nil, fmt.Errorf("journal of %s attempt %d has step %d at position %d", id, exec.Attempt, e.Seq, i+1)
			}
		}
		if len(journal) > 0 {
			h.stats.replays.Add(1)
		}
	}
	r := &run{h: h, exec: exec, input: input, journal: journal, depth: depth, evict: make(chan struct{}, 1)}
	if f != nil {
		r.held = f.held
	}
	r.pending.Exec, r.pending.Attempt = exec.ID, exec.Attempt
	r.ctx, r.cancel = context.WithCancelCause(h.ctx)
	r.ctx = context.WithValue(r.ctx, runKey{}, r)
	prepared := false
	defer func() {
		if !prepared {
			r.cancel(errRunOver) // see execute
		}
	}()
	if exec.Module == "" {
		r.reject(fmt.Sprintf("function %q is not deployed; deploy it, then invoke again", exec.Function), "")
		return nil, nil
	}
	m, err := h.loadModule(ctx, exec.Module, exec.Entry)
	var ee *budget.ExceededError
	if errors.Is(err, ErrInvalidModule) || errors.As(err, &ee) && ee.Never { // the pinned code can never run
		r.reject(fmt.Sprintf("cannot load module of function %q: %v", exec.Function, err), "")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	in, err := h.takeInstance(ctx, m)
	if err != nil {
		return nil, err
	}
	in.sys.bind(r)
	r.sys = in.sys
	r.inst = in
	prepared = true
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

// errRunOver cancels a run's context once the run has ended (or could not
// start), which releases it from the host's context; nothing reads it.
var errRunOver = errors.New("the run is over")

// output receives the guest's stdout/stderr.
func (r *run) output(p []byte) {
	const tailMax = 8 << 10
	r.tail = append(r.tail, p...)
	if len(r.tail) > tailMax {
		r.tail = append(r.tail[:0], r.tail[len(r.tail)-tailMax/2:]...)
	}
	keep, write, cut := r.logBudget(&r.outBytes, p)
	if r.replaying() {
		return
	}
	if write && len(keep) > 0 {
		r.h.log.Debug("guest output", "text", escapeGuestText(bytes.TrimRight(keep[:min(len(keep), 4096)], "\n")), "execution", r.exec.ID, "function", r.exec.Function)
	}
	if cut {
		r.logTruncated()
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
		r.unwind(&permanentError{fmt.Errorf("the execution made more than %d journaled host calls in one attempt (the step limit)", r.h.cfg.MaxSteps)})
	}
	r.seq++
	r.handles = append(r.handles, nil)
	if int(r.seq) <= len(r.journal) {
		e := &r.journal[r.seq-1]
		if e.Op != op || e.Digest != d {
			r.unwind(&NondeterminismError{Step: r.seq, JournalOp: e.Op, JournalDigest: e.Digest, GuestOp: op, GuestDigest: d, ExecutionID: r.exec.ID, JournalAttempt: r.exec.Attempt})
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
	r.pendingBytes += len(outcome) + len(child) + entryBytes
	if len(r.pending.Entries) >= flushEvery || r.pendingBytes >= flushBytes {
		r.flush()
		r.stepResume()
	}
}

// flushEvery bounds the entries held in memory between durable writes;
// flushBytes (memory.go) bounds their bytes with their arguments.
const flushEvery = 1024

// entryBytes is what a journal entry holds besides its outcome and child id.
const entryBytes = 64

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
			r.unwind(&permanentError{fmt.Errorf("a step's promise id is taken by a promise made with another request (an earlier attempt invoked another function or other arguments at the same step): %w", err)})
		}
		r.unwind(err)
	}
	timer := store.NoTimeout // the earliest timeout of the pending promises made
	for i, p := range res.Creates {
		hd := r.handles[r.createSeqs[i]-1]
		if p.State.Settled() {
			hd.settle(p)
		} else {
			timer = min(timer, p.Timeout)
		}
	}
	for i, p := range res.Starts {
		if p.State.Settled() {
			r.handles[r.startSeqs[i]-1].settle(p)
		}
	}
	r.afterCommit(res)
	r.clearPending()
	r.createSeqs, r.startSeqs = r.createSeqs[:0], r.startSeqs[:0]
	r.emitLogs()
	if timer != store.NoTimeout {
		r.h.timerAdded(timer)
	}
	r.sendHTTP()
}

// clearPending empties pending once written, dropping the references its
// arrays hold (arguments, outcomes) so the buffered bytes are freed.
func (r *run) clearPending() {
	clear(r.pending.Entries)
	clear(r.pending.Creates)
	clear(r.pending.Starts)
	r.pending.Entries, r.pending.Creates, r.pending.Starts = r.pending.Entries[:0], r.pending.Creates[:0], r.pending.Starts[:0]
	r.pendingBytes = 0
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
		r.h.timerAdded(hs.start.Promise.Timeout)
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
		r.unwind(err)
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
		if s := started[t.Exec]; s != nil && len(s.Promise.Param.Data) <= freshInputMax {
			// A larger input is read back when the child runs: children
			// queued for a slot must not hold their inputs in memory.
			f = &fresh{exec: s.Execution, input: s.Promise.Param.Data, depth: depthOf(s.Promise.Tags)}
		}
		r.h.dispatch(t.Exec, f)
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

// settle records that hd's promise settled as p. It keeps what the guest
// may ask of it (state, settle time, value), not the promise's input, tags
// or keys, and the value only up to keptValueMax.
func (hd *handle) settle(p store.Promise) {
	kept := store.Promise{ID: p.ID, State: p.State, CompletedOn: p.CompletedOn}
	if len(p.Value.Data) <= keptValueMax {
		kept.Value.Data = bytes.Clone(p.Value.Data) // not a window on a larger record
	} else {
		hd.unkept = true
	}
	hd.settled, hd.p = true, kept
}

// value returns hd's settled value, from the store when hd did not keep it.
func (r *run) value(hd *handle) []byte {
	if !hd.unkept {
		return hd.p.Value.Data
	}
	r.stepEnd()
	p, err := r.h.store.GetPromise(r.ctx, hd.id)
	r.resetStep()
	if err != nil {
		r.unwind(fmt.Errorf("read the value of promise %s: %w", hd.id, err))
	}
	return p.Value.Data
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
		r.unwind(fmt.Errorf("read promise %s: %w", hd.id, err))
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
		if i := r.awaitOnce(ids, hs); i >= 0 {
			return i
		}
	}
}

// awaitOnce watches ids, checks hs and blocks until one of them may have
// settled; it returns the first settled, or -1 to look again. The watcher
// is removed however it returns: check and block unwind the guest (a
// suspension, a stop), and a watcher left behind would be held, with the
// promise sent to it, for as long as the host runs.
func (r *run) awaitOnce(ids []string, hs []*handle) int {
	w := r.h.watch(ids...)
	defer r.h.unwatch(w)
	for _, hd := range hs {
		r.check(hd)
	}
	if i := firstSettled(hs); i >= 0 {
		return i
	}
	r.block(w, hs)
	return -1
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
	r.h.giveSlot()
	r.slot = false
	r.shrink()
	r.parkedHeld.Store(r.reserved)
	r.h.park(r.act)
	var p store.Promise
	var got bool
	select {
	case p = <-w.ch:
		got = true
	case <-r.evict:
	case <-r.ctx.Done():
	}
	r.h.unpark(r.act)
	r.parkedHeld.Store(0)
	if r.ctx.Err() != nil {
		if !got && errors.Is(context.Cause(r.ctx), errShutdown) {
			r.suspendOnClose(w.ids)
		}
		r.unwind(context.Cause(r.ctx))
	}
	if !got {
		// Evicted: suspended without a slot (a store write needs none), so
		// an eviction to make room never waits for a running slot. It
		// unwinds, unless an awaited promise settled meanwhile.
		r.suspend(w.ids)
	}
	if err := r.regrow(); err != nil {
		r.unwind(err) // no room to run hot: it resumes cold, by replay
	}
	if !r.h.takeSlot() {
		r.unwind(context.Cause(r.ctx))
	}
	r.slot = true
	r.h.resume(r.act)
	r.guestSince.Store(time.Now().UnixNano())
	for _, hd := range hs {
		if got && hd.id == p.ID && !hd.settled {
			hd.settle(p)
		}
	}
}

// suspend parks the execution in the store and unwinds the guest, unless an
// awaited promise settled meanwhile: then it returns and the guest goes on.
func (r *run) suspend(ids []string) {
	r.stepEnd()
	r.writeHeld()
	resumable, err := r.h.store.Suspend(r.ctx, store.Suspend{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: r.pending.Entries, Awaiting: ids}, r.h.owner)
	if err != nil {
		r.unwind(err)
	}
	clear(r.pending.Entries)
	r.pending.Entries = r.pending.Entries[:0]
	r.pendingBytes = 0
	if !resumable {
		r.unwind(errSuspended)
	}
}

// suspendOnClose suspends a parked execution durably as the host closes,
// so that the next process finds it waiting for its promises (cold), not as
// a task to replay: a process's start then costs the same however many
// executions wait on promises or far-away timers. The write must outlive
// the host's canceled context; Close waits for it before closing the store.
// When it cannot be written, or an awaited promise settled meanwhile, the
// run ends as a shutdown does and hands its task back.
func (r *run) suspendOnClose(ids []string) {
	ctx := context.WithoutCancel(r.ctx)
	resumable, err := r.h.store.Suspend(ctx, store.Suspend{Exec: r.exec.ID, Attempt: r.exec.Attempt, Entries: r.pending.Entries, Awaiting: ids}, r.h.owner)
	if err != nil || resumable {
		return
	}
	clear(r.pending.Entries)
	r.pending.Entries = r.pending.Entries[:0]
	r.pendingBytes = 0
	r.unwind(errSuspended)
}

// logGuest writes a guest's log line, once: not again while replaying.
// The guest's text is data: it is a field of a record whose message is the
// host's ("guest log"), escaped so that it can neither end the line nor
// steer a terminal, and bounded by the attempt's log budget.
func (r *run) logGuest(level int32, msg []byte) {
	keep, write, cut := r.logBudget(&r.logBytes, msg)
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
	if write || cut {
		line := guestLine{level: l, cut: cut}
		if write {
			line.text = escapeGuestText(keep)
		}
		r.logs = append(r.logs, line)
	}
	if !r.hasPending() {
		r.emitLogs()
	}
}

// guestLine is a guest's log line waiting to be written (see run.logs).
type guestLine struct {
	level slog.Level
	text  string
	cut   bool // the log limit was passed here: a note follows
}

// hasPending reports whether steps the guest took are not durable yet.
func (r *run) hasPending() bool {
	return len(r.pending.Entries) > 0 || len(r.pending.Creates) > 0 || len(r.pending.Starts) > 0
}

// emitLogs writes the guest's log lines held back until the steps before
// them were durable (flush) or the run ended: a line that says "resolve
// ask.1" must not be read before ask.1 exists, and a line of steps that a
// crash makes the guest take again is written once.
func (r *run) emitLogs() {
	for _, g := range r.logs {
		if g.text != "" {
			r.h.log.Log(r.ctx, g.level, "guest log", "text", g.text, "execution", r.exec.ID, "function", r.exec.Function)
		}
		if g.cut {
			r.logTruncated()
		}
	}
	clear(r.logs)
	r.logs = r.logs[:0]
}

// logBudget counts guest text against one of the attempt's budgets of
// Config.MaxLogBytes (*used: log calls, or stdout and stderr) and returns
// the part of b to write, whether to write it (false once the budget is
// spent), and cut, true on the one call whose text passes the budget. It
// counts while replaying too, without writing: the guest makes the same
// calls again, so a resumed attempt goes on counting from where its last
// pass was.
func (r *run) logBudget(used *int64, b []byte) (keep []byte, write, cut bool) {
	limit := int64(r.h.cfg.MaxLogBytes)
	before := *used
	*used += int64(len(b))
	keep = b[:max(0, min(int64(len(b)), limit-before))]
	return keep, len(keep) > 0 || *used <= limit, before <= limit && *used > limit
}

// logTruncated notes, once an attempt, that its guest log text passed the
// budget and the rest is dropped.
func (r *run) logTruncated() {
	r.h.log.Warn("guest log truncated: the execution attempt passed its log limit; the rest of its log text is dropped",
		"limit_bytes", r.h.cfg.MaxLogBytes, "execution", r.exec.ID, "function", r.exec.Function)
}

// escapeGuestText writes guest bytes as one line of text: newlines, tabs,
// every other control or format character (ESC, NUL, bidirectional
// overrides) and bytes that are not UTF-8 become Go escapes (\n, \x1b,
// \u202e); printable text, backslashes included, is left as it is.
func escapeGuestText(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		c, n := utf8.DecodeRune(b)
		switch {
		case c == utf8.RuneError && n <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case !unicode.IsPrint(c):
			if c < 0x80 {
				fmt.Fprintf(&sb, `\x%02x`, c)
			} else if c <= 0xffff {
				fmt.Fprintf(&sb, `\u%04x`, c)
			} else {
				fmt.Fprintf(&sb, `\U%08x`, c)
			}
		default:
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}
