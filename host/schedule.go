package host

import (
	"context"
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
// A task that cannot run now — no running slot is free, or the host is
// closing — gets no goroutine: it is handed back to the store (deferTask),
// where it waits, holding no memory here, until the task loop claims it
// for a free slot. So the goroutines and memory of a host follow what runs
// and what is parked, not how many tasks wait.
//
// f carries what the host just wrote, or for InvokeWait the start it holds
// back (f.held): a held start is no task, so an execution already driven
// here is left alone, and the caller takes the ordinary way. A held start
// waits for a slot on its goroutine: there is one per caller waiting on
// InvokeWait, and nothing in the store to hand back.
func (h *Host) dispatch(id string, f *fresh) *active {
	h.execMu.Lock()
	if a, ok := h.active[id]; ok {
		if f == nil || f.held == nil {
			a.again = true
		}
		h.execMu.Unlock()
		return nil
	}
	held := f != nil && f.held != nil
	if h.ctx.Err() != nil || (!held && !h.trySlot()) {
		h.execMu.Unlock()
		if !held {
			h.deferTask(id)
		}
		return nil
	}
	a := h.newActive(id, f)
	a.slot = !held
	h.wg.Add(1)
	go h.drive(a)
	h.execMu.Unlock()
	return a
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

// takeSlot takes a running slot; false when the host is closing.
func (h *Host) takeSlot() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	case <-h.ctx.Done():
		return false
	}
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

// giveSlot gives a running slot back, and wakes the task loop when tasks
// wait in the store for one.
func (h *Host) giveSlot() {
	<-h.slots
	if h.backlog.Load() {
		kick(h.kicks.tasks)
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
// free running slots, so what cannot run stays in the store; a slot given
// back wakes it while tasks wait (Host.backlog).
func (h *Host) taskLoop() {
	first := true
	for h.ctx.Err() == nil {
		h.releaseDeferred(h.ctx)
		free := h.freeSlots()
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
// and wakes what awaits them.
func (h *Host) timerLoop() {
	for h.ctx.Err() == nil {
		settled, claimed, next, err := h.store.Timeouts(h.ctx, h.nowMs(), timerBatch, h.owner, h.leaseUntil())
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Error("fire timers", "err", err)
			}
			if !h.wait(loopRetry, h.kicks.timers) {
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
		d := timerPoll
		if next > 0 {
			d = min(d, time.Until(time.UnixMilli(next)))
		}
		if !h.wait(max(d, 0), h.kicks.timers) {
			return
		}
	}
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
