package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// ErrExceeded is what every [*ExceededError] is (errors.Is), for callers that
// only branch on it.
var ErrExceeded = errors.New("budget exceeded")

// Unit says how a budget's amounts read in messages.
type Unit uint8

// Units.
const (
	Bytes Unit = iota // amounts are bytes: "12 MiB"
	Count             // amounts are things: "3"
)

// Stage is how costly what a pressure callback is asked to give back is.
type Stage uint8

// Stages, cheapest first: a budget asks for each in turn before a
// reservation fails or waits.
const (
	// Spare is what is held ahead of need and cheap to make again: ready
	// instances in pools.
	Spare Stage = iota
	// Idle is what is held by work that waits and can be rebuilt at a
	// cost: instances parked while their execution awaits, which go cold
	// and resume later by replay.
	Idle
)

// Budget is an amount that reservations take from and releases give back,
// inside its parent's (if any). Its methods may be called from any
// goroutine.
type Budget struct {
	name   string // the limit's name, as errors report it
	limit  int64  // math.MaxInt64 for none
	unit   Unit
	parent *Budget

	mu       sync.Mutex // guards held, peak, wake, children and pressure
	held     int64
	peak     int64
	wake     chan struct{} // closed at the next release; nil while nobody waits
	children []*Budget
	pressure func(need int64, s Stage)

	refused atomic.Uint64 // reservations refused (TryReserve) or given up waiting (Reserve)
	waiting atomic.Int64  // Reserve calls waiting now
}

// New makes a budget of limit (0 or less: no limit of its own) named name,
// inside parent (nil for none). A budget with a parent stays known to it
// (for pressure) until Detach.
func New(name string, limit int64, unit Unit, parent *Budget) *Budget {
	if limit <= 0 {
		limit = math.MaxInt64
	}
	b := &Budget{name: name, limit: limit, unit: unit, parent: parent}
	if parent != nil {
		parent.mu.Lock()
		parent.children = append(parent.children, b)
		parent.mu.Unlock()
	}
	return b
}

// Detach forgets b in its parent: a closed tenant's budget is asked for
// nothing more. What b still holds stays held in the parent until released.
func (b *Budget) Detach() {
	p := b.parent
	if p == nil {
		return
	}
	p.mu.Lock()
	for i, c := range p.children {
		if c == b {
			p.children = append(p.children[:i], p.children[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}

// Name is the limit's name.
func (b *Budget) Name() string { return b.name }

// Limit is the most b lets be held, its own limit or its ancestors'
// whichever is smallest: a reservation above it can never succeed.
func (b *Budget) Limit() int64 {
	l := b.limit
	for p := b.parent; p != nil; p = p.parent {
		l = min(l, p.limit)
	}
	return l
}

// OnPressure sets what b calls, outside its locks, when a reservation in b
// or under it does not fit: it should give back what it holds of stage s,
// need being how much is missing. Releases may come later (an eviction that
// finishes on another goroutine); Reserve waits for them.
func (b *Budget) OnPressure(f func(need int64, s Stage)) {
	b.mu.Lock()
	b.pressure = f
	b.mu.Unlock()
}

// TryReserve takes n from b and its ancestors, or none of it and returns an
// *ExceededError naming the budget that had no room. It asks holders to give
// back what is spare (Stage Spare) before it refuses, but waits for nothing.
func (b *Budget) TryReserve(n int64, what string) error {
	if err := b.never(n, what); err != nil {
		return err
	}
	full, held := b.take(n)
	if full == nil {
		return nil
	}
	full.squeeze(n, Spare)
	if full, held = b.take(n); full == nil {
		return nil
	}
	b.refused.Add(1)
	return full.exceeded(n, held, what, false)
}

// TryTake is TryReserve for what is itself spare (an instance made ahead of
// need): it asks nothing back, so filling one pool never empties another.
func (b *Budget) TryTake(n int64, what string) error {
	if err := b.never(n, what); err != nil {
		return err
	}
	if full, held := b.take(n); full != nil {
		b.refused.Add(1)
		return full.exceeded(n, held, what, false)
	}
	return nil
}

// Reserve takes n from b and its ancestors, asking holders to give back
// memory and waiting for releases until it fits or ctx ends. It fails at
// once when n is above the limit itself, since no wait can make it fit.
func (b *Budget) Reserve(ctx context.Context, n int64, what string) error {
	if err := b.never(n, what); err != nil {
		return err
	}
	full, _ := b.take(n)
	if full == nil {
		return nil
	}
	for _, s := range []Stage{Spare, Idle} {
		full.squeeze(n, s)
		if full, _ = b.take(n); full == nil {
			return nil
		}
	}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	root := b.root()
	for {
		// Every release reaches the root: its wake channel is taken
		// before the attempt, so a release in between is not missed.
		root.mu.Lock()
		if root.wake == nil {
			root.wake = make(chan struct{})
		}
		wake := root.wake
		root.mu.Unlock()
		var held int64
		if full, held = b.take(n); full == nil {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			b.refused.Add(1)
			return fmt.Errorf("%w (waited until: %w)", full.exceeded(n, held, what, false), context.Cause(ctx))
		}
	}
}

// Release gives n back to b and its ancestors and wakes whoever waits.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	for x := b; x != nil; x = x.parent {
		x.mu.Lock()
		x.held -= n
		if x.held < 0 { // a release without its reservation: a bug of the caller
			x.held = 0
		}
		wake := x.wake
		x.wake = nil
		x.mu.Unlock()
		if wake != nil {
			close(wake)
		}
	}
}

// Stats are a budget's figures for monitoring.
type Stats struct {
	Name    string
	Limit   int64 // its own limit; math.MaxInt64 for none
	Held    int64 // held now
	Peak    int64 // the most held at once since it was made
	Refused uint64
	Waiting int64
}

// Stats returns b's figures.
func (b *Budget) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Name: b.name, Limit: b.limit, Held: b.held, Peak: b.peak, Refused: b.refused.Load(), Waiting: b.waiting.Load()}
}

// Held returns how much of b is held now.
func (b *Budget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// take reserves n in b and its ancestors, or returns the budget that has no
// room and what it held. Locks are taken child first, then parent.
func (b *Budget) take(n int64) (full *Budget, held int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit-b.held {
		return b, b.held
	}
	if b.parent != nil {
		if full, held := b.parent.take(n); full != nil {
			return full, held
		}
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return nil, 0
}

// never refuses n above the limit itself.
func (b *Budget) never(n int64, what string) error {
	for x := b; x != nil; x = x.parent {
		if n > x.limit {
			b.refused.Add(1)
			return x.exceeded(n, 0, what, true)
		}
	}
	return nil
}

// squeeze asks b and everything under it to give back what they hold of
// stage s.
func (b *Budget) squeeze(need int64, s Stage) {
	var fs []func(int64, Stage)
	var walk func(x *Budget)
	walk = func(x *Budget) {
		x.mu.Lock()
		f, kids := x.pressure, append([]*Budget(nil), x.children...)
		x.mu.Unlock()
		if f != nil {
			fs = append(fs, f)
		}
		for _, k := range kids {
			walk(k)
		}
	}
	walk(b)
	for _, f := range fs {
		f(need, s)
	}
}

func (b *Budget) root() *Budget {
	r := b
	for r.parent != nil {
		r = r.parent
	}
	return r
}

func (b *Budget) exceeded(n, held int64, what string, never bool) *ExceededError {
	return &ExceededError{Limit: b.name, Budget: b.limit, Need: n, Held: held, What: what, Never: never, Unit: b.unit}
}

// ExceededError is a reservation that did not fit.
type ExceededError struct {
	Limit  string // the name of the budget that had no room
	Budget int64  // its size
	Need   int64  // what the reservation asked for
	Held   int64  // what was held in it when it was refused
	What   string // what the reservation was for
	// Never says Need is above the budget itself: no wait makes it fit,
	// only a smaller request or a larger limit.
	Never bool
	Unit  Unit
}

// Error says which limit, what was needed and what is held.
func (e *ExceededError) Error() string {
	if e.Never {
		return fmt.Sprintf("limit %s: %s needs %s, more than the whole budget of %s: make it smaller or raise the limit",
			e.Limit, e.What, e.Unit.format(e.Need), e.Unit.format(e.Budget))
	}
	return fmt.Sprintf("limit %s: %s needs %s, and %s of the budget's %s are held: retry when work in flight has finished",
		e.Limit, e.What, e.Unit.format(e.Need), e.Unit.format(e.Held), e.Unit.format(e.Budget))
}

// Is makes errors.Is(err, ErrExceeded) true.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// format writes n in u.
func (u Unit) format(n int64) string {
	if u == Count {
		return fmt.Sprint(n)
	}
	return Size(n)
}

// Size writes a byte count for people: "512 MiB", "1.5 GiB", "300 bytes".
func Size(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "no limit"
	case n >= 1<<30:
		return trim(float64(n)/(1<<30)) + " GiB"
	case n >= 1<<20:
		return trim(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10:
		return trim(float64(n)/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%d bytes", n)
}

func trim(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
