package host

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/reprise-wasm/reprise/store"
)

// InvokeWait invokes function name with input, as Invoke does, and waits up
// to wait for the execution to settle. It returns the execution's promise:
// settled, or pending when wait passed first — its start is then durable,
// as after Invoke, and p.ID names it. An id (opts.ID) that is already
// taken by an execution of the same function waits for that one.
//
// A guest that ends without a durable host call (invoke, sleep, promise,
// http, or an await that must wait; now and random ride along) is written
// start and result in one commit: one store write instead of two. Until
// then the execution is private to this call: no one else can see its id,
// and should the process die, the caller has no answer and nothing is lost,
// since the guest had no effect outside. The first durable call, or the
// wait running out, writes the start first, and from there on it is an
// ordinary execution.
//
// When ctx ends first, InvokeWait returns ctx's error; the execution
// goes on only if its start was already durable.
func (h *Host) InvokeWait(ctx context.Context, name string, input []byte, opts InvokeOptions, wait time.Duration) (store.Promise, error) {
	s, err := h.newStart(ctx, name, input, opts)
	if err != nil {
		return store.Promise{}, err
	}
	id := s.Promise.ID
	deadline := time.Now().Add(wait)
	hs := &heldStart{start: s, done: make(chan struct{})}
	a := h.dispatch(id, &fresh{exec: s.Execution, input: s.Promise.Param.Data, held: hs})
	if a == nil { // already driven here (or closing): the ordinary way
		p, err := h.start(ctx, s)
		if err != nil || p.State.Settled() || wait <= 0 {
			return p, err
		}
		return h.awaitUntil(ctx, id, deadline)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var gaveUp error
	select {
	case <-hs.done:
	case <-timer.C:
	case <-ctx.Done():
		gaveUp = ctx.Err()
	}
	hs.mu.Lock()
	switch hs.state {
	case startSettled:
		hs.mu.Unlock()
		return hs.result, nil
	case startHeld:
		// The guest still runs and nothing is written: give up on it, or
		// make its start durable now, as Invoke would have.
		if gaveUp != nil {
			hs.end(startDropped, gaveUp)
			hs.mu.Unlock()
			h.stopHeld(hs, a)
			return store.Promise{}, gaveUp
		}
		p, created, err := h.store.StartExecution(ctx, s, h.owner, h.leaseUntil())
		switch {
		case err != nil:
			hs.end(startDropped, err)
		case !created:
			hs.end(startTaken, nil)
		default:
			hs.end(startWritten, nil)
			if s.Promise.Timeout != store.NoTimeout {
				h.timerAdded(s.Promise.Timeout)
			}
		}
		hs.mu.Unlock()
		if err != nil || !created {
			h.stopHeld(hs, a) // not ours to run
		}
		return p, conflictError(id, err)
	case startDropped:
		err := hs.err
		hs.mu.Unlock()
		if !errors.Is(err, errSettled) {
			if h.ctx.Err() != nil {
				return store.Promise{}, ErrClosed
			}
			return store.Promise{}, conflictError(id, err)
		}
		// The id was settled from outside: it is someone else's execution.
	default: // startWritten, startTaken: an ordinary execution now
		hs.mu.Unlock()
	}
	if gaveUp != nil {
		return store.Promise{}, gaveUp
	}
	return h.awaitUntil(ctx, id, deadline)
}

// awaitUntil is Await until deadline; past it, it returns the promise
// pending, without error.
func (h *Host) awaitUntil(ctx context.Context, id string, deadline time.Time) (store.Promise, error) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	p, err := h.Await(wctx, id)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		if p.ID == "" {
			return h.store.GetPromise(ctx, id)
		}
		return p, nil
	}
	return p, err
}

// heldStart is the start of an execution invoked through InvokeWait, held
// back so that a guest without durable calls is written start and result in
// one commit. Whoever writes it — the run with its first durable step, or
// the caller when its wait runs out — does so holding mu, so it is written
// once and both know whether this invocation made the execution.
type heldStart struct {
	start store.Start

	// mu guards state, result and err. It is held across the store write
	// of the start (by the run's commit, or by InvokeWait when its wait
	// ran out), so that exactly one of them writes it and both know who.
	mu     sync.Mutex
	state  startState
	result store.Promise // startSettled: the execution's settled promise
	err    error         // startDropped: why
	done   chan struct{} // closed when state leaves startHeld
}

type startState uint8

const (
	startHeld    startState = iota // not written: the run is private to the invocation
	startWritten                   // written, creating the execution: an ordinary run from here on
	startSettled                   // written together with the result
	startTaken                     // the id existed already: this run may write nothing
	startDropped                   // never to be written: the run ended or failed first, or the caller gave up
)

// end records the final state; hs.mu is held.
func (hs *heldStart) end(s startState, err error) {
	hs.state, hs.err = s, err
	close(hs.done)
}

// written reports whether the start is durable and this invocation's.
func (hs *heldStart) written() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.state == startWritten || hs.state == startSettled
}

// dropIfHeld gives up on writing the start, unless it is written already.
func (hs *heldStart) dropIfHeld(err error) {
	hs.mu.Lock()
	if hs.state == startHeld {
		hs.end(startDropped, err)
	}
	hs.mu.Unlock()
}

// stopHeld stops the run of held invocation hs, whose start is not to be
// written; a later run of the same id (another invocation's) goes on.
func (h *Host) stopHeld(hs *heldStart, a *active) {
	h.execMu.Lock()
	r := a.run
	if r == nil && a.fresh != nil && a.fresh.held == hs {
		a.stopped = errNotOurs // not yet running: stop it once it is
	}
	h.execMu.Unlock()
	if r != nil && r.held == hs {
		r.stop(errNotOurs)
	}
}
