package host

import (
	"container/list"
	"fmt"
	"maps"
	"sync/atomic"
)

// execState is where an execution this host drives is in its life here.
// One goroutine drives it (drive) from dispatch until it is done here; the
// execution itself may go on elsewhere or later (suspended in the store,
// waiting for a retry, given back to another worker).
//
// Valid transitions (execTransitions):
//
//	queued    → preparing  it took a running slot
//	queued    → done       the host closed first
//	preparing → running    its instance is ready and bound: the guest runs
//	preparing → ending     nothing to run (finished), or it failed before the guest could start
//	running   → parked     it awaits with its instance kept in memory, and gave its slot back
//	running   → ending     the guest stopped: returned, trapped, unwound by a host call, or was stopped
//	parked    → running    woken (or evicted, to suspend), it took a slot again
//	parked    → ending     stopped while parked (canceled, shutdown)
//	ending    → queued     a task arrived while it ran: run it once more
//	ending    → done       what followed its end is written
//
// Every change goes through Host.setState, under Host.execMu.
type execState uint8

const (
	execQueued    execState = iota // dispatched: its goroutine waits for a running slot
	execPreparing                  // holds a slot: reading its record and journal, getting an instance
	execRunning                    // holds a slot: the guest runs, or a host call it made
	execParked                     // awaits with its instance in memory and no slot (hot); may be evicted
	execEnding                     // its attempt is over here: the action of its endReason runs
	execDone                       // out of Host.active: nothing of it is driven here any more
	numExecStates
)

var execStateNames = [numExecStates]string{"queued", "preparing", "running", "parked", "ending", "done"}

func (s execState) String() string {
	if s < numExecStates {
		return execStateNames[s]
	}
	return fmt.Sprintf("execState(%d)", uint8(s))
}

// execTransitions[from] has bit to set when from → to is valid.
var execTransitions = [numExecStates]uint8{
	execQueued:    1<<execPreparing | 1<<execDone,
	execPreparing: 1<<execRunning | 1<<execEnding,
	execRunning:   1<<execParked | 1<<execEnding,
	execParked:    1<<execRunning | 1<<execEnding,
	execEnding:    1<<execQueued | 1<<execDone,
}

func (s execState) canBecome(to execState) bool {
	return s < numExecStates && to < numExecStates && execTransitions[s]&(1<<to) != 0
}

// active is an execution driven by a goroutine of this host. Its fields are
// guarded by Host.execMu; the goroutine that drives it is the only one that
// changes run, and reads fresh without the lock.
type active struct {
	id    string
	state execState
	run   *run // the current attempt while it is running or parked; nil otherwise
	// again is set when a task for it arrived while it was driven: the
	// current pass may have just suspended it, so it runs once more.
	again bool
	// stopped is why it must stop, when that became known before run was
	// set (its promise settled from outside while it was queued or being
	// prepared): the run is stopped with it as soon as it exists.
	stopped error
	fresh   *fresh // what the host just wrote for a new execution: no need to read it back
	// slot is set when dispatch took a running slot for its first pass;
	// only the goroutine that drives it reads and clears it.
	slot     bool
	parkElem *list.Element // its place in Host.parked while it is parked in memory and not evicted
}

// execCounts counts the executions driven here by state (done ones are
// not counted), and the invalid transitions tests check never happen.
type execCounts struct {
	by      [numExecStates]atomic.Int64
	invalid atomic.Uint64 // transitions refused by setState: a bug of the host
}

// setState moves a to state to. h.execMu must be held. An invalid
// transition is a bug of the host: it is logged and counted, and the state
// changes anyway so that the execution is not stuck.
func (h *Host) setState(a *active, to execState) {
	from := a.state
	if !from.canBecome(to) {
		h.execs.invalid.Add(1)
		h.log.Error("host bug: invalid execution state transition", "id", a.id, "from", from, "to", to)
	}
	h.execs.by[from].Add(-1)
	a.state = to
	if to == execDone {
		delete(h.active, a.id)
		h.active = shrunk(h.active, &h.activePeak)
		return
	}
	h.execs.by[to].Add(1)
}

// newActive records a new execution driven here, queued; h.execMu is held.
func (h *Host) newActive(id string, f *fresh) *active {
	a := &active{id: id, state: execQueued, fresh: f}
	h.execs.by[execQueued].Add(1)
	h.active[id] = a
	h.activePeak = max(h.activePeak, len(h.active))
	return a
}

// shrinkMin is the least peak of a map that shrunk copies.
const shrinkMin = 1024

// shrunk returns m, or a copy of it once it holds under an eighth of the
// most it held (*peak, which the copy resets) and that was many: a Go map
// never gives back the room of deleted entries, so a burst of executions
// would otherwise be held for the host's life. The copy costs len(m),
// paid for by the deletions before it.
func shrunk[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < shrinkMin || 8*len(m) >= *peak {
		return m
	}
	n := make(map[K]V, len(m))
	maps.Copy(n, m)
	*peak = len(m)
	return n
}
