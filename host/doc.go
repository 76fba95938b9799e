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
//     then outcome; netguard.go: the dialer every request goes through,
//     which checks the address dialled against the internal ranges;
//     sandbox.go: the deterministic WASI world of an instance.
//   - module.go: checking and compiling a module (its bytes are read first by
//     internal/wasmbin); modules.go: the module cache, its states, and the
//     pool of ready instances.
//   - limits.go: the work limits (pending executions, children per
//     execution, invoke depth) and the LimitError that names them.
//   - memory.go: what the host counts against its memory budget
//     (Config.Budget, package budget), the figures behind the estimates,
//     and what gives memory back under pressure (pools and the code of
//     modules nothing uses, then parked instances). A run's handles keep
//     settled values only up to keptValueMax; larger ones are read from the
//     store when the guest asks (run.value).
//   - reserved.go: the tags and keys only the host writes, and how recovery
//     tells an HTTP intent of its own from a promise merely tagged as one.
//   - retention.go: the purge of finished executions and settled promises
//     past Config.Retention, and what a read of a purged id says.
//   - config.go, stats.go: configuration and figures.
//
// # Goroutines
//
// Every goroutine the host starts is counted in Host.wg; [Host.Close] cancels
// Host.ctx with errShutdown and waits for all of them before it closes the
// modules and the engine. A run parked on promises suspends itself in the
// store on the way out (run.suspendOnClose), so the next process has no
// task for it until one of those promises settles; a running one hands its
// task back.
//   - Four or five loops, started by New once the outbound requests an earlier
//     process left are recovered (or, when the store takes no writes at
//     start, by recoverLater, which retries that recovery until it does),
//     end when Host.ctx is canceled: taskLoop
//     (claims ready tasks for the free running slots: recovery at start,
//     retries, tasks that waited for a slot, tasks other writers made;
//     a slot given back wakes it while Host.backlog says tasks wait),
//     timerLoop (settles promises past their timeout, sleeps among them;
//     between passes it sleeps until the earliest timeout, and a new timer
//     only moves that wake-up earlier, Host.timerAdded, so a burst of new
//     timers costs no pass of its own), heartbeatLoop (renews this host's task leases) and watchdogLoop
//     (stops guests past Config.StepTimeout); and a fifth unless
//     Config.Retention keeps everything, retentionLoop (purges what is
//     past the retention a slice at a time through the store, pausing
//     between slices, and reclaims the space at most every
//     Config.reclaimEvery, on its own goroutine: never in the committer).
//   - drive, one per execution driven here, started by dispatch with a
//     running slot already taken (or, for InvokeWait's held start, to wait
//     for one). The guest runs on it: the engine's Call is synchronous, and
//     host calls run inside it. It ends when a pass ends and no task for
//     the execution arrived meanwhile, or when the host closes. A task that
//     finds no free slot gets no goroutine: it waits in Host.queue (at most
//     queueMax tasks), from which a slot given back starts it, or past that
//     goes back to the store (Host.deferred, released by the task loop),
//     and the task loop claims tasks only for free slots and room in the
//     queue. So goroutines follow what runs and what is parked, never how
//     many tasks wait.
//   - A pool fill per module whose pool of ready instances is below
//     Config.ReadyInstances, started by takeInstance (refill); it ends when
//     the pool is full, the module is evicted, or the host closes.
//   - A sender per outbound HTTP request in flight (sendHTTP), started once
//     the request's intent is durable; it waits for one of
//     HTTPConfig.MaxInFlight slots (Host.httpSlots, held until the outcome
//     is recorded) before it sends, and ends when the response is settled
//     (a failed write is retried with backoff, recordHTTP), or at shutdown
//     without writing (recovery decides, as after a crash).
//   - A releaser per task whose hand-back failed (giveBack), trying again
//     with backoff; it ends when the release is written or the host closes.
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
//   - Host.deferMu guards Host.deferred (claimed tasks that found no free
//     slot nor room in the queue, to hand back to the store).
//   - Host.queueMu guards Host.queue, what waits for a running slot in
//     order of arrival (queued tasks, and runs waiting to resume, each
//     with a channel closed when it is handed a slot). A slot is given
//     back to the pool under it, so a run that queues never misses one.
//   - Host.funcMu guards Host.funcs (the function cache).
//   - timerWake.mu (Host.timers) guards when the timer loop passes next.
//   - moduleCache.mu guards the cache's map and clock; module.mu a module's
//     state, users and pool fill.
//   - heldStart.mu guards an InvokeWait start's state.
//
// The budgets of package budget have locks of their own, never held while
// calling the host: Config.Budget calls Host.pressure outside them, which
// takes moduleCache.mu (to drain pools) and execMu (to evict parked runs).
// A run reserves its memory before it takes a running slot, and an evicted
// run suspends without one, so waiting for memory never holds a slot that
// the holders of that memory need.
//
// Only heldStart.mu is held across a store call: the start of an invocation
// through InvokeWait is written by whichever of the run and the waiting
// caller comes first, and holding it across that write is what makes it
// written once. No other lock is held across a store call, an engine call or
// a wait on a channel; cancelling a run's context (run.stop) takes no lock of
// the host's, so it may be done under execMu.
//
// A run's own fields belong to the goroutine that drives it, except
// run.guestSince (atomic, read by the watchdog), run.parkedHeld (atomic,
// read by evictParked), run.evict (a channel) and run.stop (its context's
// cancel).
package host
