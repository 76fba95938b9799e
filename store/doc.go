// Package store defines the durable state of Reprise — promises, executions,
// journals, tasks, timers, modules and functions — behind an interface of
// whole operations, each one transaction. The host reaches state only
// through [Store], so a distributed backend can replace the embedded Badger
// one (package store/badgerstore). The package holds types and the
// interface only; it has no implementation, goroutines or locks of its own.
//
// # The records
//
// A [Promise] is a durable promise: its [State] (pending, then settled once
// for ever), param and value ([Value]), timeout, idempotency keys and tags;
// [Promise.Effective] is how a read must show one whose timeout has passed.
// Every invocation is a promise, and the [Execution] with the same ID is the
// run of a function for it: the module it is pinned to, the attempt it is
// on, and when that attempt began. Each attempt has a journal, the ordered
// host calls of the guest (an [Entry] each, of an [Op]), which replay
// answers from. A [Task] says an execution must make progress and is claimed
// by one owner (a worker) under a lease. A [Function] binds a name to a
// module, by version. Times in these records are Unix milliseconds, except
// where a field says nanoseconds.
//
// # The operations
//
// The host's writes come in a few shapes, each applied all or nothing:
// [Create] and [Settle] for promises; [Start] for a new execution with its
// promise and a claimed task; [Commit] for a durable step of an execution
// (journal entries, the promises and child executions they make, and
// optionally its result); [Suspend] to park an execution until a promise
// settles, registering callbacks that make a new task when one does (or
// reporting at once that one already has). Store.Timeouts settles the
// promises whose timeout has passed, and Store.Retry starts a new attempt.
// Operations that make tasks ready ([CommitResult], [SettleResult],
// Timeouts) return them already claimed for the caller, so it runs them
// without claiming them again. [Query] searches promises a page at a time.
// Store.Purge deletes what is settled and past a retention period, a
// bounded slice a call, never what a pending execution's replay reads (the
// promises it created); Store.ReclaimSpace returns the space to the file
// system.
//
// Errors are the sentinels [ErrNotFound], [ErrConflict], [ErrForbidden],
// [ErrNotOwner], [ErrInvalid], [ErrClosed] and [ErrStorageFull], wrapped
// with details; test them with errors.Is. A write refused for lack of space
// is a [*StorageFullError] naming the limit it met ([LimitStorage], a
// store's quota, or [LimitDiskReserve], the free space kept on the disk).
//
// # Monitoring
//
// [Stats] are figures a store keeps as it goes (executions by state, journal
// bytes, executions purged, operations, the latency of its syncs as a metrics.Histogram), so
// reading them scans nothing.
//
// # Concurrency
//
// A Store is used by many goroutines at once: every method must be safe for
// concurrent use and linearizable, and must make its writes durable before
// it returns. An implementation is expected to group the syncs of
// concurrent callers (group commit) rather than sync once per call.
package store
