package host

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// Batch sizes and waits of the background loops.
const (
	// timerBatch is how many timed-out promises the timer loop settles in
	// one store operation; a full batch is followed at once by the next.
	timerBatch = 1000
	// taskPoll bounds how long the task loop sleeps without a kick: tasks
	// another writer made ready are found within it.
	taskPoll = time.Second
	// timerPoll bounds how long the timer loop sleeps when the store knows
	// of no next deadline.
	timerPoll = time.Minute
	// loopRetry is the pause of a loop after its store operation failed.
	loopRetry = time.Second
)

// dispatch makes sure a goroutine drives execution id, and returns the new
// record when it made one. When id is driven here already, a task for it
// is remembered and run after the current pass (the pass may have just
// suspended it), and dispatch returns nil.
//
// A task that cannot run now gets no goroutine. With no running slot free
// it waits in Host.queue, a bounded queue (queueMax) from which a slot
// given back starts the next one at once; past that, or when the host is
// closing, it is handed back to the store (deferTask), where it waits,
// holding no memory here, until the task loop claims it again. So the
// goroutines and memory of a host follow what runs and what is parked,
// not how many tasks wait.
//
// f carries what the host just wrote, or for InvokeWait the start it holds
// back (f.held): a held start is no task, so an execution already driven
// here is left alone, and the caller takes the ordinary way. A held start
// waits for a slot on its goroutine: there is one per caller waiting on
// InvokeWait, and nothing in the store to hand back.
func (h *Host) dispatch(id string, f *fresh) *active {
	held := f != nil && f.held != nil
	h.execMu.Lock()
	if a, ok := h.active[id]; ok {
		if !held {
			a.again = true
		}
		h.execMu.Unlock()
		return nil
	}
	if held {
		defer h.execMu.Unlock()
		if h.ctx.Err() != nil {
			return nil
		}
		return h.start1(id, f, false)
	}
	h.execMu.Unlock()
	if h.ctx.Err() != nil {
		h.deferTask(id)
		return nil
	}
	switch h.slotOrQueue(id, f) {
	case queuedUp:
		return nil
	case queueFull:
		h.deferTask(id)
		return nil
	}
	// It holds a slot; start it, unless it became driven meanwhile.
	h.execMu.Lock()
	if a, ok := h.active[id]; ok || h.ctx.Err() != nil {
		if ok {
			a.again = true
		}
		h.execMu.Unlock()
		h.giveSlot()
		if !ok {
			h.deferTask(id)
		}
		return nil
	}
	a := h.start1(id, f, true)
	h.execMu.Unlock()
	return a
}

// start1 starts the goroutine that drives id; slot says it holds a
// running slot already. h.execMu is held.
func (h *Host) start1(id string, f *fresh, slot bool) *active {
	a := h.newActive(id, f)
	a.slot = slot
	h.wg.Add(1)
	go h.drive(a)
	return a
}

// The queue of what waits here for a running slot, in order of arrival:
// runs that wait to resume (parked ones woken, one goroutine each, as many
// as are parked), and claimed tasks, which have no goroutine yet. Tasks are
// bounded, so that their memory does not grow with how many wait (the
// rest wait in the store), but the queue is long enough that a fan-out's
// children start from it with what their parent just wrote (fresh)
// instead of reading it back.
const (
	queueMax      = 1024    // tasks in the queue
	queueMaxBytes = 4 << 20 // of their fresh inputs; past it a task is queued without
)

// queued is one entry of Host.queue: a task (id, and f when known), or a
// run waiting to resume (wake, closed when it is handed a slot).
type queued struct {
	id   string
	f    *fresh
	wake chan struct{}
}

// What slotOrQueue did.
const (
	gotSlot = iota
	queuedUp
	queueFull
)

// slotOrQueue takes a free running slot for task id, or queues it.
func (h *Host) slotOrQueue(id string, f *fresh) int {
	h.queueMu.Lock()
	defer h.queueMu.Unlock()
	if h.trySlot() {
		return gotSlot
	}
	if h.queueTasks >= queueMax {
		return queueFull
	}
	if f != nil {
		if h.queueBytes+len(f.input) > queueMaxBytes {
			f = nil
		} else {
			h.queueBytes += len(f.input)
		}
	}
	h.queue = append(h.queue, queued{id: id, f: f})
	h.queueTasks++
	return queuedUp
}

// queueRoom is how many more tasks the queue takes.
func (h *Host) queueRoom() int {
	h.queueMu.Lock()
	defer h.queueMu.Unlock()
	return queueMax - h.queueTasks
}

// takeQueuedTasks takes the tasks out of the queue and returns them.
func (h *Host) takeQueuedTasks() []queued {
	h.queueMu.Lock()
	defer h.queueMu.Unlock()
	var tasks []queued
	h.queue = slices.DeleteFunc(h.queue, func(q queued) bool {
		if q.wake == nil {
			tasks = append(tasks, q)
			return true
		}
		return false
	})
	h.queueTasks, h.queueBytes = 0, 0
	return tasks
}

// pop takes the first entry of the queue; h.queueMu is held.
func (h *Host) pop() queued {
	q := h.queue[0]
	h.queue[0] = queued{}
	h.queue = h.queue[1:]
	if len(h.queue) == 0 {
		h.queue = nil // let the backing array go
	}
	if q.wake == nil {
		h.queueTasks--
		if q.f != nil {
			h.queueBytes -= len(q.f.input)
		}
	}
	return q
}

// startQueued starts a queued task on the slot the caller hands it; false
// when it needs none (driven here already, or the host is closing).
func (h *Host) startQueued(q queued) bool {
	h.execMu.Lock()
	if a, ok := h.active[q.id]; ok {
		a.again = true
		h.execMu.Unlock()
		return false
	}
	if h.ctx.Err() != nil {
		h.execMu.Unlock()
		h.deferTask(q.id)
		return false
	}
	h.start1(q.id, q.f, true)
	h.execMu.Unlock()
	return true
}

// deferTask notes that the task of id, claimed here, cannot run now: the
// task loop hands it back to the store, ready for the next free slot.
func (h *Host) deferTask(id string) {
	h.deferMu.Lock()
	h.deferred = append(h.deferred, id)
	h.deferMu.Unlock()
	h.backlog.Store(true)
	kick(h.kicks.tasks)
}

// releaseDeferred hands the deferred tasks back to the store.
func (h *Host) releaseDeferred(ctx context.Context) {
	h.deferMu.Lock()
	ids := h.deferred
	h.deferred = nil
	h.deferMu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := h.store.ReleaseTasks(ctx, h.owner, ids); err != nil {
		// They stay claimed here: the next pass tries again, and should
		// this host die first, its lease lapses and others claim them.
		h.deferMu.Lock()
		h.deferred = append(h.deferred, ids...)
		h.deferMu.Unlock()
		if h.ctx.Err() == nil {
			h.log.Error("hand back tasks that wait for a slot", "tasks", len(ids), "err", err)
		}
	}
}

func (h *Host) dispatchAll(ts []store.Task) {
	for _, t := range ts {
		h.dispatch(t.Exec, nil)
	}
}

// drive is the goroutine of one execution here: it runs passes until no
// task for it arrived during the last one.
func (h *Host) drive(a *active) {
	defer h.wg.Done()
	for {
		h.execute(a)
		h.execMu.Lock()
		if !a.again || h.ctx.Err() != nil {
			h.setState(a, execDone)
			h.execMu.Unlock()
			return
		}
		a.again = false
		a.fresh = nil
		a.stopped = nil // the next pass reads the promise's state itself
		h.setState(a, execQueued)
		h.execMu.Unlock()
	}
}

// takeSlot takes a running slot for a run that resumes, waiting its turn
// in Host.queue when none is free; false when the host is closing.
func (h *Host) takeSlot() bool {
	h.queueMu.Lock()
	if h.trySlot() {
		h.queueMu.Unlock()
		return true
	}
	w := make(chan struct{})
	h.queue = append(h.queue, queued{wake: w})
	h.queueMu.Unlock()
	select {
	case <-w:
		return true
	case <-h.ctx.Done():
	}
	h.queueMu.Lock()
	i := slices.IndexFunc(h.queue, func(q queued) bool { return q.wake == w })
	if i >= 0 {
		h.queue = slices.Delete(h.queue, i, i+1)
		h.queueMu.Unlock()
		return false
	}
	h.queueMu.Unlock()
	<-w // handed a slot meanwhile: pass it on
	h.giveSlot()
	return false
}

// trySlot takes a running slot if one is free now.
func (h *Host) trySlot() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// freeSlots is how many running slots are free now.
func (h *Host) freeSlots() int { return cap(h.slots) - len(h.slots) }

// giveSlot gives a running slot back: to the first in Host.queue, or to
// the pool, waking the task loop when tasks wait in the store for one.
func (h *Host) giveSlot() {
	for {
		h.queueMu.Lock()
		if len(h.queue) == 0 {
			<-h.slots // under the lock: whoever queues next sees it free
			h.queueMu.Unlock()
			if h.backlog.Load() {
				kick(h.kicks.tasks)
			}
			return
		}
		q := h.pop()
		h.queueMu.Unlock()
		if q.wake != nil {
			close(q.wake)
			return
		}
		kick(h.kicks.tasks) // room in the queue: the task loop may refill it
		if h.startQueued(q) {
			return
		}
	}
}

// watcher is one party waiting for promises to settle.
type watcher struct {
	ids []string
	ch  chan store.Promise
}

// watch registers interest in ids before their state is read, so a
// settlement between the read and the wait is not missed.
func (h *Host) watch(ids ...string) *watcher {
	w := &watcher{ids: ids, ch: make(chan store.Promise, len(ids))}
	h.watchMu.Lock()
	for _, id := range ids {
		m := h.watchers[id]
		if m == nil {
			m = map[*watcher]struct{}{}
			h.watchers[id] = m
			h.watchersPeak = max(h.watchersPeak, len(h.watchers))
		}
		m[w] = struct{}{}
	}
	h.watchMu.Unlock()
	return w
}

func (h *Host) unwatch(w *watcher) {
	h.watchMu.Lock()
	for _, id := range w.ids {
		if m := h.watchers[id]; m != nil {
			delete(m, w)
			if len(m) == 0 {
				delete(h.watchers, id)
			}
		}
	}
	h.watchers = shrunk(h.watchers, &h.watchersPeak)
	h.watchMu.Unlock()
}

// settled is called after p's settlement is durable: it wakes local waiters
// and stops the execution whose own promise it is, if that one still runs
// (canceled or timed out from outside).
func (h *Host) settled(p store.Promise) {
	h.watchMu.Lock()
	for w := range h.watchers[p.ID] {
		select {
		case w.ch <- p:
		default:
		}
	}
	h.watchMu.Unlock()
	if r := h.stopping(p.ID, errSettled); r != nil {
		r.stop(errSettled)
	}
}

// stopping marks execution id to be stopped with cause. It returns the run
// to stop now, or nil when there is none yet: then the run is stopped as
// soon as it exists.
func (h *Host) stopping(id string, cause error) *run {
	h.execMu.Lock()
	defer h.execMu.Unlock()
	a := h.active[id]
	switch {
	case a == nil:
		return nil
	case a.state == execRunning || a.state == execParked:
		return a.run
	default:
		a.stopped = cause
		return nil
	}
}

// park records a as parked in memory, evicting the longest-parked runs past
// Config.MaxParked: they suspend to the store and give up their instance.
func (h *Host) park(a *active) {
	h.execMu.Lock()
	h.setState(a, execParked)
	if h.parked.Len() == 0 {
		h.parked.Init()
	}
	a.parkElem = h.parked.PushBack(a)
	for h.parked.Len() > h.cfg.MaxParked {
		old := h.parked.Remove(h.parked.Front()).(*active)
		old.parkElem = nil
		select {
		case old.run.evict <- struct{}{}:
		default:
		}
	}
	h.execMu.Unlock()
}

// unpark takes a off the parked list; it stays parked (with no slot) until
// it takes a slot again (resume).
func (h *Host) unpark(a *active) {
	h.execMu.Lock()
	if a.parkElem != nil {
		h.parked.Remove(a.parkElem)
		a.parkElem = nil
	}
	h.execMu.Unlock()
}

// resume marks a parked execution running again: it holds a slot.
func (h *Host) resume(a *active) {
	h.execMu.Lock()
	h.setState(a, execRunning)
	h.execMu.Unlock()
}

// Parked reports how many executions hold an instance while they wait.
func (h *Host) Parked() int {
	h.execMu.Lock()
	defer h.execMu.Unlock()
	return h.parked.Len()
}

// wait sleeps until d passes, c is kicked, or the host closes.
func (h *Host) wait(d time.Duration, c chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c:
	case <-h.ctx.Done():
		return false
	}
	return true
}

// kick wakes a loop without blocking.
func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// taskLoop claims ready tasks: at start every unfinished execution (recovery),
// later retries whose backoff has passed, tasks that waited for a slot and
// anything another writer made ready. It claims only as many as there are
// free running slots and room in Host.queue, so what cannot run soon stays
// in the store; a slot given back wakes it while tasks wait (Host.backlog).
func (h *Host) taskLoop() {
	first := true
	for h.ctx.Err() == nil {
		h.releaseDeferred(h.ctx)
		// What can run now, and what can wait here for the next free slot.
		free := h.freeSlots() + h.queueRoom()
		if free <= 0 {
			if !h.wait(taskPoll, h.kicks.tasks) {
				return
			}
			continue
		}
		now := time.Now()
		tasks, next, err := h.store.ClaimTasks(h.ctx, h.owner, now.UnixMilli(), h.leaseUntil(), free)
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Error("claim tasks", "err", err)
			}
			if !h.wait(loopRetry, h.kicks.tasks) {
				return
			}
			continue
		}
		more := len(tasks) == free || (next > 0 && next <= now.UnixMilli())
		h.backlog.Store(more)
		h.dispatchAll(tasks)
		if more {
			continue
		}
		if first {
			first = false
			close(h.recovered)
		}
		d := taskPoll
		if next > 0 {
			d = min(d, time.Until(time.UnixMilli(next)))
		}
		if !h.wait(max(d, time.Millisecond), h.kicks.tasks) {
			return
		}
	}
}

// timerLoop settles promises whose timeout passed (durable sleeps among them)
// and wakes what awaits them. Between passes it sleeps until the earliest
// timeout the store knows of, or one added meanwhile (Host.timerAdded).
func (h *Host) timerLoop() {
	for h.ctx.Err() == nil {
		h.timers.begin()
		settled, claimed, next, err := h.store.Timeouts(h.ctx, h.nowMs(), timerBatch, h.owner, h.leaseUntil())
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Error("fire timers", "err", err)
			}
			if !h.sleepUntil(h.timers.plan(h.nowMs() + loopRetry.Milliseconds())) {
				return
			}
			continue
		}
		for _, p := range settled {
			h.settled(p)
		}
		h.dispatchAll(claimed)
		if len(settled) == timerBatch {
			continue
		}
		at := h.nowMs() + timerPoll.Milliseconds()
		if next > 0 {
			at = min(at, next)
		}
		if !h.sleepUntil(h.timers.plan(at)) {
			return
		}
	}
}

// sleepUntil sleeps until the timer loop's pass planned at at (Unix ms),
// or the earlier one a new timer moves it to; false when the host closes.
func (h *Host) sleepUntil(at int64) bool {
	for {
		d := time.Until(time.UnixMilli(at))
		if d <= 0 {
			return true
		}
		if !h.wait(d, h.kicks.timers) {
			return false
		}
		at = h.timers.planned()
	}
}

// timerAdded tells the timer loop of a new timer due at deadline (Unix
// ms). It wakes the loop only when the timer is due before the loop's
// next pass, and then only to sleep until the new deadline: the pass
// itself runs when something is due. So a burst of new timers — a fan-out
// of sleeping children — costs the loop no store operation of its own.
func (h *Host) timerAdded(deadline int64) {
	if h.timers.add(deadline) {
		kick(h.kicks.timers)
	}
}

// timerWake is when the timer loop passes next.
type timerWake struct {
	mu sync.Mutex // guards at and early
	// at is the Unix ms of the next pass, math.MinInt64 while a pass
	// runs; early is, during a pass, the earliest timer added meanwhile
	// (math.MaxInt64: none), which the pass may have missed.
	at, early int64
}

func newTimerWake() timerWake { return timerWake{at: math.MinInt64, early: math.MaxInt64} }

// add records a timer due at deadline and reports whether the loop must
// wake to sleep less.
func (w *timerWake) add(deadline int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.at == math.MinInt64 {
		w.early = min(w.early, deadline)
		return false
	}
	if deadline >= w.at {
		return false
	}
	w.at = deadline
	return true
}

// begin marks a pass as running: the timers added from now on may be
// written after its scan.
func (w *timerWake) begin() {
	w.mu.Lock()
	w.at, w.early = math.MinInt64, math.MaxInt64
	w.mu.Unlock()
}

// plan ends a pass: the next is at at, or earlier for a timer added
// during the pass. It returns when.
func (w *timerWake) plan(at int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = min(at, w.early)
	return w.at
}

// planned is when the next pass is.
func (w *timerWake) planned() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at
}

// heartbeatLoop renews the leases of the tasks this host owns, three
// times a lease.
func (h *Host) heartbeatLoop() {
	for h.wait(h.cfg.Lease/3, nil) {
		if err := h.store.Heartbeat(h.ctx, h.owner, h.leaseUntil()); err != nil && h.ctx.Err() == nil {
			h.log.Error("heartbeat", "err", err)
		}
	}
}

// watchdogLoop stops guests that run longer than StepTimeout without a
// blocking host call. One goroutine for all: cheaper than a timer per step.
func (h *Host) watchdogLoop() {
	tick := max(h.cfg.StepTimeout/8, 5*time.Millisecond)
	for h.wait(tick, nil) {
		limit := time.Now().Add(-h.cfg.StepTimeout).UnixNano()
		h.execMu.Lock()
		for _, a := range h.active {
			if r := a.run; r != nil && a.state == execRunning {
				if s := r.guestSince.Load(); s != 0 && s < limit {
					r.stop(errStepTimeout)
				}
			}
		}
		h.execMu.Unlock()
	}
}

// loop runs f on a goroutine of the host's until the host closes.
func (h *Host) loop(f func()) {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); f() }()
}
