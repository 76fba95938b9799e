package host

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/reprise-wasm/reprise/budget"
)

// What the host holds for its tenant, counted against Config.Budget:
//
//   - A running instance holds its memory cap (Config.MemoryLimit): between
//     two host calls its guest can grow its memory to the cap, and the host
//     cannot stop it half-way. With it go an allowance for the instance's
//     host-side structures (instanceAllowance), the journal entries and
//     arguments buffered until the next durable write (at most flushBytes,
//     then a flush), and the input and result (a payload each).
//   - A ready (pooled) or parked instance holds its linear memory as it is
//     (engine.Instance.MemorySize: no guest runs on it, so it cannot grow)
//     plus its host-side overhead (instanceOverhead). A Go guest parks at
//     ~2.3 MiB of memory; counting it at its 128 MiB cap would let a 1 GiB
//     budget park 8 of them.
//   - A pool instance being made holds its cap until its _initialize has
//     run (which may fill it), then what it has.
//   - A compile holds compileEstimate of its module while it runs, and a
//     compiled module keeps codeEstimate while it is cached.
//   - An outbound HTTP request in flight holds two payloads (its body and
//     its response's).
//
// At the budget, pools are emptied first (budget.Spare), then parked
// instances are evicted to the cold path (budget.Idle); a run that still
// cannot fit waits before it takes a running slot, its task claimed and
// durable. A deploy does not wait: it is refused with the limit's name.

// Figures measured on wazero v1.12 (2-core machine; VmHWM and VmRSS of the
// process around one compile, see the budget commit):
//   - compile peak: a 256 KB single-function module of memory stores
//     ~790 bytes per body byte, nested blocks ~740, a deep operand stack
//     ~95; twenty such functions in one module peak like one of them plus
//     the code kept (wazero compiles one function at a time); a Go guest
//     (3.3 MB, largest body 29 KB) ~16 bytes per module byte.
//   - compiled code kept: 5.7 bytes per module byte for a Go guest, 9.6-17
//     for the single-function stress modules.
//   - instance overhead: ~3 KiB for a small raw module; ~3 MiB of Go heap
//     for a Go guest (its thousands of functions and table).
const (
	compileBase          = 8 << 20
	compilePerModuleByte = 20
	compilePerBodyByte   = 1024 // the worst measured (~790) with room
	codePerModuleByte    = 10
	instanceBase         = 64 << 10
	// instanceAllowance is the host-side overhead a run reserves before
	// its module is known: a Go guest's ~3 MiB with room. A module whose
	// overhead is larger reserves the rest once loaded.
	instanceAllowance = 4 << 20
	// flushBytes bounds the journal entries and arguments a run buffers
	// before it writes them: past it the run flushes, as past flushEvery
	// entries.
	flushBytes = 1 << 20
	// freshInputMax is the largest input a child dispatched at once
	// carries in memory; a larger one is read from the store when the
	// child runs, so children queued for a slot do not hold their inputs.
	freshInputMax = 64 << 10
)

// compileEstimate is the working memory compiling a module of size bytes
// whose largest function body is largest bytes may peak at, with the code
// it keeps.
func compileEstimate(size int, largest uint32) int64 {
	return compileBase + compilePerModuleByte*int64(size) + compilePerBodyByte*int64(largest)
}

// codeEstimate is what a compiled module of size bytes keeps while cached.
func codeEstimate(size int) int64 { return codePerModuleByte * int64(size) }

// instanceOverhead is an instance's host-side memory besides its linear
// memory: it grows with the module (functions, tables, globals), about a
// byte per module byte for a Go guest.
func instanceOverhead(moduleSize int) int64 { return instanceBase + int64(moduleSize) }

// runReservation is what a run reserves before it takes a running slot: its
// call stack too, which can reach Config.MaxCallStack (measured on wazero:
// about 1.2 times it at its peak, when the stack doubles) while it runs.
func (h *Host) runReservation() int64 {
	stack := int64(max(h.cfg.MaxCallStack, 0)) * 5 / 4
	return int64(h.cfg.MemoryLimit) + instanceAllowance + flushBytes + 2*int64(h.cfg.MaxPayload) + stack
}

// idleReservation is what a pooled or parked instance of m holds.
func idleReservation(in *instance, m *module) int64 {
	return int64(in.inst.MemorySize()) + instanceOverhead(m.size)
}

// errOverBudget marks a run given back because its memory did not fit: it
// resumes by replay once memory is free, as after an eviction.
var errOverBudget = errors.New("memory budget: the execution waits, cold, until memory is free")

// reserveRun reserves a run's memory before it takes a slot, waiting for
// memory when the budget is full; false when the host closes first.
func (h *Host) reserveRun(a *active) (int64, bool) {
	n := h.runReservation()
	if err := h.cfg.Budget.Reserve(h.ctx, n, "a running instance of execution "+a.id); err != nil {
		if h.ctx.Err() == nil {
			// Never fits: the memory cap alone is over the budget. The
			// configuration is wrong, not the execution: say it loudly.
			h.log.Error("an execution cannot run: its memory cap does not fit the memory budget", "id", a.id, "err", err)
		}
		return 0, false
	}
	return n, true
}

// fitModule tops up a run's reservation when its module's instances need
// more than instanceAllowance besides their memory.
func (r *run) fitModule(m *module) error {
	extra := instanceOverhead(m.size) - instanceAllowance
	if extra <= 0 {
		return nil
	}
	if err := r.h.cfg.Budget.TryReserve(extra, fmt.Sprintf("an instance of a %s module", budget.Size(int64(m.size)))); err != nil {
		return fmt.Errorf("%w: %w", errOverBudget, err)
	}
	r.reserved += extra
	return nil
}

// shrink gives back what a parking run holds above its instance's idle
// size: it cannot grow while parked.
func (r *run) shrink() {
	idle := idleReservation(r.inst, r.inst.inst.(*use).m)
	if d := r.reserved - idle; d > 0 {
		r.h.cfg.Budget.Release(d)
		r.reserved = idle
	}
}

// regrow reserves a woken run's running size again. It does not wait: a
// run that cannot have its memory back goes cold (errOverBudget) and
// resumes by replay once there is room, so parked runs woken together can
// never wait on one another.
func (r *run) regrow() error {
	d := r.h.runReservation() - r.reserved
	if d <= 0 {
		return nil
	}
	if err := r.h.cfg.Budget.TryReserve(d, "waking execution "+r.exec.ID); err != nil {
		return fmt.Errorf("%w: %w", errOverBudget, err)
	}
	r.reserved += d
	return nil
}

// pressure is the host's answer to its budget being full: give back spare
// memory (the pools, then the compiled code of modules nothing uses, about
// need bytes of it: both are made again cheaply), then idle memory (parked
// instances, longest-parked first, about need bytes of them).
func (h *Host) pressure(need int64, s budget.Stage) {
	switch s {
	case budget.Spare:
		h.drainPools()
		h.evictIdleModules(need)
	case budget.Idle:
		h.evictParked(need)
	}
}

// evictIdleModules evicts compiled modules that nothing uses (no instance
// of them is running, parked or pooled), least recently used first, until
// about need bytes of compiled code are given back. Without it a tenant's
// cached modules could hold its whole budget, and its executions would wait
// for memory that nothing gives back. An evicted module compiles again
// (from the compilation cache) when it is next used.
func (h *Host) evictIdleModules(need int64) {
	c := &h.modules
	type candidate struct {
		m    *module
		used int64
	}
	var cs []candidate
	c.mu.Lock()
	for _, m := range c.byHash {
		if m.compiled() {
			cs = append(cs, candidate{m, m.used})
		}
	}
	c.mu.Unlock()
	slices.SortFunc(cs, func(a, b candidate) int { return cmp.Compare(a.used, b.used) })
	for _, cd := range cs {
		if need <= 0 {
			return
		}
		m := cd.m
		m.mu.Lock()
		idle := m.users == 0
		m.mu.Unlock()
		if !idle {
			continue
		}
		c.mu.Lock()
		ours := c.byHash[m.hash] == m
		if ours {
			delete(c.byHash, m.hash)
		}
		c.mu.Unlock()
		if ours {
			// Used again since the check, it stays open for its users
			// and closes after them (module.evict).
			h.log.Debug("module evicted for memory", "module", m.hash, "code", m.code)
			m.evict(h.ctx)
			need -= m.code
		}
	}
}

// drainPools closes every pooled instance; pools refill when memory allows.
func (h *Host) drainPools() {
	c := &h.modules
	c.mu.Lock()
	ms := make([]*module, 0, len(c.byHash))
	for _, m := range c.byHash {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	for _, m := range ms {
		for {
			select {
			case in := <-m.pool:
				h.closeInstance(h.ctx, in)
				continue
			default:
			}
			break
		}
	}
}

// evictParked evicts parked runs, longest-parked first, until about need
// bytes of them are on their way out. They release their memory once they
// have suspended.
func (h *Host) evictParked(need int64) {
	h.execMu.Lock()
	defer h.execMu.Unlock()
	for freed := int64(0); freed < need && h.parked.Len() > 0; {
		old := h.parked.Remove(h.parked.Front()).(*active)
		old.parkElem = nil
		freed += old.run.parkedHeld.Load()
		select {
		case old.run.evict <- struct{}{}:
		default:
		}
	}
}

// closeInstance closes an instance that no run holds (pooled, or made for
// a pool) and gives back its memory.
func (h *Host) closeInstance(ctx context.Context, in *instance) {
	in.inst.Close(ctx)
	h.cfg.Budget.Release(in.held)
	in.held = 0
}

// reserveHTTP reserves what an outbound request in flight holds; the
// returned func gives it back.
func (h *Host) reserveHTTP() (func(), error) {
	n := 2 * int64(h.cfg.MaxPayload)
	if err := h.cfg.Budget.TryReserve(n, "an outbound http request"); err != nil {
		return nil, err
	}
	return func() { h.cfg.Budget.Release(n) }, nil
}

// MemoryStats are a host's figures of its memory budget.
type MemoryStats = budget.Stats
