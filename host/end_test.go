package host

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/store"
)

// TestWhyARunEnded checks the table from how a guest stopped — its call's
// error, what a host call unwound it with, and a stop from outside — to
// the reason that decides what is written.
func TestWhyARunEnded(t *testing.T) {
	trap := &engine.TrapError{Message: engine.TrapUnreachable}
	storeErr := errors.New("disk on fire")
	nondet := &NondeterminismError{Step: 3}
	tests := []struct {
		name    string
		err     error // what the engine's call returned
		unwound error // what a host call unwound the guest with
		cause   *stopCause
		want    endReason
	}{
		{"returned", nil, nil, nil, endReturned},
		{"exit 0", &engine.ExitError{Code: 0}, nil, nil, endReturned},
		{"exit 3", &engine.ExitError{Code: 3}, nil, nil, endTrapped},
		{"trap", trap, nil, nil, endTrapped},
		{"suspended", trap, errSuspended, nil, endSuspended},
		{"non-determinism", trap, nondet, nil, endFailed},
		{"permanent", trap, &permanentError{errors.New("too many steps")}, nil, endFailed},
		{"lost task", trap, fmt.Errorf("commit: %w", store.ErrNotOwner), nil, endNotOurs},
		{"held start taken", trap, errNotWritten, nil, endNotOurs},
		{"store failure", trap, storeErr, nil, endHostError},
		{"stopped while parked", trap, errSettled, errSettled, endSettled},

		// A stop from outside outranks what the stopped guest did next...
		{"shutdown, then a store call failed", trap, context.Canceled, errShutdown, endShutdown},
		{"shutdown, engine interrupted the guest", engine.ErrInterrupted, nil, errShutdown, endShutdown},
		{"settled, store call refused", trap, store.ErrNotOwner, errSettled, endSettled},
		{"given up, guest interrupted", trap, nil, errNotOurs, endNotOurs},
		{"step limit in a loop", trap, nil, errStepTimeout, endStepLimit},
		{"step limit inside a host call", trap, storeErr, errStepTimeout, endStepLimit},
		// ...but not a guest that returned, a durable suspension, or a
		// permanent failure found before the step limit struck.
		{"returned as the host closed", nil, nil, errShutdown, endReturned},
		{"suspended as the host closed", trap, errSuspended, errShutdown, endSuspended},
		{"diverged past the step limit", trap, nondet, errStepTimeout, endFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tt.cause != nil {
				cancel(tt.cause)
			}
			r := &run{ctx: ctx, unwound: tt.unwound}
			if got := r.why(tt.err); got != tt.want {
				t.Errorf("why = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestStopFromOutsideReachesChildContexts checks that the host's own stop
// (Close cancels its context with errShutdown) is the cause a run sees.
func TestStopFromOutsideReachesChildContexts(t *testing.T) {
	hctx, cancel := context.WithCancelCause(context.Background())
	rctx, rcancel := context.WithCancelCause(hctx)
	defer rcancel(nil)
	cancel(errShutdown)
	r := &run{ctx: rctx}
	if got := r.why(engine.ErrInterrupted); got != endShutdown {
		t.Fatalf("why = %s, want %s", got, endShutdown)
	}
}

func TestStateTransitionTables(t *testing.T) {
	for from := execState(0); from < numExecStates; from++ {
		for to := execState(0); to < numExecStates; to++ {
			ok := from.canBecome(to)
			if to == from && ok {
				t.Errorf("%s → %s: a state does not become itself", from, to)
			}
			if from == execDone && ok {
				t.Errorf("done → %s: done is final", to)
			}
		}
	}
	// Every state but done can reach done.
	for s := execState(0); s < execDone; s++ {
		seen := map[execState]bool{s: true}
		for frontier := []execState{s}; len(frontier) > 0; {
			f := frontier[0]
			frontier = frontier[1:]
			for to := execState(0); to < numExecStates; to++ {
				if f.canBecome(to) && !seen[to] {
					seen[to] = true
					frontier = append(frontier, to)
				}
			}
		}
		if !seen[execDone] {
			t.Errorf("%s cannot reach done", s)
		}
	}
	for from := moduleState(0); from < numModuleStates; from++ {
		if moduleTransitions[from]&(1<<from) != 0 {
			t.Errorf("module %s → %s: a state does not become itself", from, from)
		}
	}
	if moduleTransitions[moduleClosed] != 0 || moduleTransitions[moduleFailed] != 0 {
		t.Error("closed and failed modules are final")
	}
}

func TestEveryABICallIsImplemented(t *testing.T) {
	for _, imp := range imports() {
		if imp.Func == nil {
			t.Errorf("host call %s has no implementation", imp.Name)
		}
	}
	if len(hostCalls) != len(imports()) {
		t.Errorf("%d host calls implemented, %d in the ABI", len(hostCalls), len(imports()))
	}
}

func TestSleepDeadlineIsNeverEarlyByTheJournaledClock(t *testing.T) {
	for _, now := range []int64{0, 1, 999_999, 1_000_000, 1_000_001, 1_765_000_000_123_456_789} {
		for _, ms := range []int64{0, 1, 200} {
			d := deadlineMs(now, ms)
			// The timer fires once the store's clock (ms) reaches d: the
			// earliest a later now() can read is d ms.
			if got := d*1_000_000 - now; got < ms*1_000_000 {
				t.Errorf("deadlineMs(%d, %d) = %d: a now() at the deadline is only %d ns later", now, ms, d, got)
			}
			if d*1_000_000-now >= (ms+1)*1_000_000 {
				t.Errorf("deadlineMs(%d, %d) = %d: a whole ms late", now, ms, d)
			}
		}
	}
}

// A property over many durations and clock phases: with the rounding the
// host applies (waitMs, deadlineMs) and the rule by which a timeout counts
// as passed (store.Promise.Effective at a clock read in whole ms), the
// earliest clock reading at which a sleep made at nowNs is over is never
// less than its duration after nowNs, and is less than 2 ms later.
func TestSleepIsNeverEarlyOverDurationsAndClockPhases(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 7))
	for i := range 200_000 {
		nowNs := 1_765_000_000_000_000_000 + rng.Int64N(10_000_000_000)
		var durNs int64
		switch i % 4 {
		case 0:
			durNs = rng.Int64N(3_000_000) // around a few ms, any phase
		case 1:
			durNs = rng.Int64N(1000) * 1_000_000 // whole ms
		case 2:
			durNs = rng.Int64N(10_000_000_000) // up to 10 s
		default:
			durNs = rng.Int64N(1000)*1_000_000 + rng.Int64N(2) - 1 // a ns either side of a whole ms
		}
		durNs = max(durNs, 0)
		p := store.Promise{State: store.Pending, Timeout: deadlineMs(nowNs, waitMs(durNs))}
		// The first whole-ms clock reading at or after the call at which
		// the sleep reads as over:
		ms := max((nowNs+999_999)/1_000_000, p.Timeout-2)
		for p.Effective(ms).State == store.Pending {
			ms++
		}
		if over := ms*1_000_000 - nowNs; over < durNs {
			t.Fatalf("sleep of %d ns made at %d ns reads as over %d ns later: early", durNs, nowNs, over)
		} else if over >= durNs+2_000_000 {
			t.Fatalf("sleep of %d ns made at %d ns reads as over only %d ns later: 2 ms late", durNs, nowNs, over)
		}
	}
}
