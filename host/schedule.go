package host

import (
	"container/list"
	"errors"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// dispatch makes sure a goroutine drives execution t.Exec. A task for an
// execution already driven here is remembered and run after the current pass
// (the pass may have just suspended it).
func (h *Host) dispatch(t store.Task, f *fresh) {
	h.mu.Lock()
	if a, ok := h.active[t.Exec]; ok {
		a.again = true
		h.mu.Unlock()
		return
	}
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		return
	}
	a := &active{fresh: f}
	h.active[t.Exec] = a
	h.wg.Add(1)
	h.mu.Unlock()
	go h.drive(t.Exec, a)
}

func (h *Host) dispatchAll(ts []store.Task) {
	for _, t := range ts {
		h.dispatch(t, nil)
	}
}

func (h *Host) drive(id string, a *active) {
	defer h.wg.Done()
	for {
		h.execute(id, a)
		h.mu.Lock()
		if !a.again || h.ctx.Err() != nil {
			delete(h.active, id)
			h.mu.Unlock()
			return
		}
		a.again = false
		a.fresh = nil
		a.stopped = nil // the next pass reads the promise's state itself
		h.mu.Unlock()
	}
}

// acquire takes a running slot; false when the host is closing.
func (h *Host) acquire() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	case <-h.ctx.Done():
		return false
	}
}

func (h *Host) release() { <-h.slots }

// watcher is one party waiting for promises to settle.
type watcher struct {
	ids []string
	ch  chan store.Promise
}

// watch registers interest in ids before their state is read, so a
// settlement between the read and the wait is not missed.
func (h *Host) watch(ids ...string) *watcher {
	w := &watcher{ids: ids, ch: make(chan store.Promise, len(ids))}
	h.mu.Lock()
	for _, id := range ids {
		m := h.watchers[id]
		if m == nil {
			m = map[*watcher]struct{}{}
			h.watchers[id] = m
		}
		m[w] = struct{}{}
	}
	h.mu.Unlock()
	return w
}

func (h *Host) unwatch(w *watcher) {
	h.mu.Lock()
	for _, id := range w.ids {
		if m := h.watchers[id]; m != nil {
			delete(m, w)
			if len(m) == 0 {
				delete(h.watchers, id)
			}
		}
	}
	h.mu.Unlock()
}

// settled is called after p's settlement is durable: it wakes local waiters
// and stops the execution whose own promise it is, if that one still runs
// (canceled or timed out from outside).
func (h *Host) settled(p store.Promise) {
	h.mu.Lock()
	for w := range h.watchers[p.ID] {
		select {
		case w.ch <- p:
		default:
		}
	}
	var r *run
	if a := h.active[p.ID]; a != nil {
		if r = a.run; r == nil {
			a.stopped = errSettled // being prepared: stop it once it exists
		}
	}
	h.mu.Unlock()
	if r != nil {
		r.stop(errSettled)
	}
}

// errSettled stops an execution whose promise was settled by someone else.
var errSettled = errors.New("the execution's promise was settled from outside")

// parkList orders parked executions, oldest first, for eviction.
type parkList struct {
	l list.List
}

// park records r as parked, evicting the longest-parked runs past the bound.
func (h *Host) park(r *run) {
	h.mu.Lock()
	if h.parked.l.Len() == 0 {
		h.parked.l.Init()
	}
	r.parkElem = h.parked.l.PushBack(r)
	for h.parked.l.Len() > h.cfg.MaxParked {
		old := h.parked.l.Remove(h.parked.l.Front()).(*run)
		old.parkElem = nil
		select {
		case old.evict <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

func (h *Host) unpark(r *run) {
	h.mu.Lock()
	if r.parkElem != nil {
		h.parked.l.Remove(r.parkElem)
		r.parkElem = nil
	}
	h.mu.Unlock()
}

// Parked reports how many executions hold an instance while they wait.
func (h *Host) Parked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.parked.l.Len()
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

// taskLoop claims ready tasks: at start every unfinished execution (recovery),
// later retries whose backoff has passed and anything another writer made ready.
func (h *Host) taskLoop() {
	first := true
	for h.ctx.Err() == nil {
		now := time.Now()
		tasks, next, err := h.store.ClaimTasks(h.ctx, h.owner, now.UnixMilli(), h.leaseUntil(), 256)
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Error("claim tasks", "err", err)
			}
			if !h.wait(time.Second, h.kicks.tasks) {
				return
			}
			continue
		}
		h.dispatchAll(tasks)
		if len(tasks) == 256 {
			continue
		}
		if first {
			first = false
			close(h.recovered)
		}
		d := time.Second
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
		settled, claimed, next, err := h.store.Timeouts(h.ctx, h.nowMs(), 1000, h.owner, h.leaseUntil())
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Error("fire timers", "err", err)
			}
			if !h.wait(time.Second, h.kicks.timers) {
				return
			}
			continue
		}
		for _, p := range settled {
			h.settled(p)
		}
		h.dispatchAll(claimed)
		if len(settled) == 1000 {
			continue
		}
		d := time.Minute
		if next > 0 {
			d = min(d, time.Until(time.UnixMilli(next)))
		}
		if !h.wait(max(d, 0), h.kicks.timers) {
			return
		}
	}
}

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
		h.mu.Lock()
		for _, a := range h.active {
			if r := a.run; r != nil {
				if s := r.guestSince.Load(); s != 0 && s < limit {
					r.stop(errStepTimeout)
				}
			}
		}
		h.mu.Unlock()
	}
}
