// Package host runs durable functions: it loads guests compiled to Wasm, gives
// them the host calls of ABI v1 (abi/), journals those calls in the store, and
// resumes every unfinished execution after a restart by replaying its journal.
//
// # Overview
//
// A [Host] serves one [store.Store] with one engine ([engine.Engine]).
// [Host.Deploy] compiles and checks a module and binds a function name to it;
// [Host.Invoke] and [Host.InvokeWait] start executions; [Host.Await],
// [Host.Settle], [Host.Cancel] and [Host.Search] work on promises, which every
// execution is. Everything durable is in the store: the host holds only what
// makes live work fast (compiled modules, instances parked while their
// execution awaits, who waits on which promise), and rebuilds it by replay.
//
// Where things are:
//   - host.go: the Host and its public calls; invokewait.go: InvokeWait's
//     held start, written with the first durable step or the result.
//   - state.go: an execution's states here, and Host.setState, through which
//     every change goes. schedule.go: dispatch, the running slots, parking,
//     who waits on what, and the background loops.
//   - run.go: one attempt of an execution on one instance — replay, journal
//     steps, group commit of local steps, await. end.go: why a run ended (one
//     endReason) and what that writes. trap.go: the engine's errors as text.
//   - calls.go: the host calls of the ABI; http.go: outbound HTTP as intent,
//     then outcome; sandbox.go: the deterministic WASI world of an instance.
//   - module.go: checking and compiling a module (its bytes are read first by
//     internal/wasmbin); modules.go: the module cache, its states, and the
//     pool of ready instances.
//   - reserved.go: the tags and keys only the host writes, and how recovery
//     tells an HTTP intent of its own from a promise merely tagged as one.
//   - config.go, stats.go: configuration and figures.
//
// # Goroutines
//
// Every goroutine the host starts is counted in Host.wg; [Host.Close] cancels
// Host.ctx with errShutdown and waits for all of them before it closes the
// modules and the engine.
//   - Four loops, started by New, end when Host.ctx is canceled: taskLoop
//     (claims ready tasks: recovery at start, retries, tasks other writers
//     made), timerLoop (settles promises past their timeout, sleeps among
//     them), heartbeatLoop (renews this host's task leases) and watchdogLoop
//     (stops guests past Config.StepTimeout).
//   - drive, one per execution driven here, started by dispatch. The guest
//     runs on it: the engine's Call is synchronous, and host calls run inside
//     it. It ends when a pass ends and no task for the execution arrived
//     meanwhile, or when the host closes.
//   - A pool fill per module whose pool of ready instances is below
//     Config.ReadyInstances, started by takeInstance (refill); it ends when
//     the pool is full, the module is evicted, or the host closes.
//   - A sender per outbound HTTP request in flight (sendHTTP), started once
//     the request's intent is durable; it ends when the response is settled,
//     or at shutdown without writing (recovery decides, as after a crash).
//
// Callers' goroutines run the public calls; InvokeWait and Await block on
// them until a promise settles.
//
// # Locks
//
// Each lock guards one thing; none is held while taking another of these:
//   - Host.execMu guards Host.active, the fields of every active execution,
//     and Host.parked (the eviction order of parked instances).
//   - Host.watchMu guards Host.watchers (who waits on which promise).
//   - Host.httpMu guards Host.inflight (requests this process is sending).
//   - Host.funcMu guards Host.funcs (the function cache).
//   - moduleCache.mu guards the cache's map and clock; module.mu a module's
//     state, users and pool fill.
//   - heldStart.mu guards an InvokeWait start's state.
//
// Only heldStart.mu is held across a store call: the start of an invocation
// through InvokeWait is written by whichever of the run and the waiting
// caller comes first, and holding it across that write is what makes it
// written once. No other lock is held across a store call, an engine call or
// a wait on a channel; cancelling a run's context (run.stop) takes no lock of
// the host's, so it may be done under execMu.
//
// A run's own fields belong to the goroutine that drives it, except
// run.guestSince (atomic, read by the watchdog), run.evict (a channel) and
// run.stop (its context's cancel).
package host
