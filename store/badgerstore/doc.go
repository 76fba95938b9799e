// Package badgerstore implements store.Store on an embedded Badger database:
// the durable state of one Reprise data directory (or of one tenant's).
//
// [Open] returns a [DB], which holds the directory exclusively (a second
// Open fails with [ErrLocked]) and voids the leases of the owners an earlier
// process left — one record per owner, not per task — so recovery finds
// every unfinished execution claimable. [DB.Close]
// finishes the queued operations and closes Badger. [DB.CountByScan] checks
// the figures of Stats against a full scan, for tests and offline checks.
//
// The files follow the store's nouns: promises.go; executions.go
// (executions, journals and the steps StartExecution, Commit, Suspend and
// Retry); search.go (SearchPromises and its glob); tasks.go (claims,
// timers); leases.go (a lease per owner: a claimed task's lease is its
// owner's, so Heartbeat writes one record and the tasks of a lapsed owner
// are reclaimed a slice at a time); functions.go (modules and
// functions); stats.go (the counters behind Stats); purge.go (retention:
// Purge, its done index and children lists, the backfill of stores written
// before them, and ReclaimSpace); floors.go (where each time index's live
// entries begin, stored with the writes that move it so that a restart
// does not read the tombstones of everything that fired before, the
// stretches of tombstones a scan skips, and the bound on what one scan
// reads). keys.go documents the key layout, one prefix byte per kind of
// record plus the indexes (timers, ready and leased tasks, tasks by owner,
// callbacks, settled promises by settlement, children by parent, pending
// promises) and the stored floors and schema version; codec.go the
// values' versioned encoding. db.go is the committer, tx.go the transaction an
// operation runs in. open.go holds Badger's options — sized for one small
// store per tenant (16 MiB memtables, two of them, values from 1 KiB in the
// value log, an 8 MiB block cache) — and the open path, which removes the
// zero-length log files a kill during Badger's file creation leaves.
// space.go checks writes against the storage limits. schema.go keeps the
// store's schema version and brings a store written by an earlier version
// up to it when it opens read-write (today: the index of pending promises,
// which a search for pending promises reads instead of every promise).
//
// # Space
//
// Before an operation's writes reach the transaction, the committer checks
// them against the store's quota (Options.Quota: what its files occupy)
// and the disk's reserve (Options.Reserve: free space writes must leave on
// its file system); a write past either fails with a
// *store.StorageFullError naming the limit and writes nothing, while reads
// go on. The check is cheap: the committer measures (one statfs and a stat
// of each file, in allocated blocks since Badger's mmapped logs are
// sparse) at most every second or every MiB let through, and counts what it
// lets through in between, twice over (a byte written to a log is written
// again when its memtable is flushed). A store at a limit measures again
// every 100 ms, so writes resume soon after space returns. The reserve is
// what keeps the process alive on a full disk: Badger writes its logs and
// tables through mmap, where a page the file system cannot back is a
// SIGBUS, so the reserve must hold what Badger writes on its own (flushes,
// compactions: keys and small values only, by the options above).
//
// Opening read-write writes at once (new log files, the flush of what the
// logs hold), so Open on a disk under its reserve opens Badger read-only:
// reads work, every write is refused, and the committer reopens Badger
// read-write (then voids leases) before the first batch that finds room.
//
// # Group commit
//
// Every operation, reads included, is a closure run by one committer
// goroutine. The committer takes all queued operations, runs them one after
// another inside a single Badger read-write transaction, commits it — one
// fsync for the whole batch — and only then releases their callers. So many
// executions share one fsync, and no caller ever observes a write that is not
// yet durable (reads are linearizable). An operation's writes are buffered
// and reach the transaction only if the operation succeeds, so a failing
// operation leaves nothing behind. The committer is the only writer, so
// Badger's conflict detection is off. A batch that grows large is split into
// several transactions, each committed (and synced) before the next begins.
//
// Nothing in the committer may take long, since every operation waits for
// it: operations are point reads and writes, and a scan of an index reads
// at most a bounded slice of it (maxWalk keys, tombstones included),
// starting past the tombstones of what earlier scans consumed (floors.go),
// so its cost follows the live entries, not the store's history.
//
// The fsync is Badger's own SyncWrites, not an explicit DB.Sync after a
// commit without it: DB.Sync syncs only the active memtable log and value log
// file, so writes that landed in a file Badger had just rotated (every 64 MB
// of writes, or 1 GB of large values) would stay unsynced, though
// acknowledged, until a background flush. With one committer, SyncWrites
// costs the same single fsync per batch and leaves no such window.
//
// A commit or sync that fails leaves Badger's state on disk unknown: the
// store then fails that batch's operations and every later one.
//
// # Retention
//
// Purge deletes settled promises past a cut-off, a bounded slice per
// operation, found through the done index (d/settledAt/id) from its floor:
// its cost follows what it deletes. A promise an execution created stays in
// that execution's list of children (k/parent/id) while the execution is
// pending, since its replay reads it, and moves to the done index when the
// execution is purged; purge.go has the rules. Deleting frees no disk by
// itself: ReclaimSpace, run by the host after purges on its own goroutine,
// has Badger flush its memtable (one operation of the committer, the only
// one that waits on Badger's own work: one memtable flush), compact and
// rewrite the value-log files that are mostly deleted. A purge, which only
// frees space, passes the space check at a limit.
//
// Only ReadJournal, GetModule and SearchPromises read Badger directly,
// bypassing the committer: the first two read data that never changes once
// written; a search reads a snapshot of its own (a read transaction), which
// holds every write acknowledged before it began, so a search, bounded as it
// is (Options.SearchScan ids a page), never holds up the committer.
//
// # Concurrency
//
// A DB is safe for concurrent use. Its one goroutine of its own is the
// committer (commitLoop), started by Open once leases are voided and stopped
// by Close: Close sets closing, after which new operations fail with
// store.ErrClosed; the committer runs what is queued, exits and closes
// exited, and only then does Close close Badger. Badger runs background
// goroutines of its own (compactions, memtable flushes) between badger.Open
// and Close.
//
// A caller enqueues its operation under DB.mu, which guards the queue and
// the closing flag, wakes the committer through signal (a channel of one
// slot) and waits on the operation's done channel. A caller whose context
// ends while its operation is still queued marks it canceled (an atomic
// compare-and-swap that the committer also makes before running it) and
// returns; once the committer has started an operation, its caller waits
// for the end. Everything else the committer uses — the transaction, the
// failed error, the committed counters — is its own and takes no lock.
//
// DB.direct, a read-write lock, guards closed and DB.bdb: the direct
// readers (and ReclaimSpace's compaction and value-log rewrite, on the
// caller's goroutine) hold it for reading while they read, Close takes it to mark the
// store closed before it closes Badger, and the committer takes it to swap
// a read-only Badger for a read-write one. DB.reclaim lets one
// ReclaimSpace run at a time. Stats reads atomics only: the operation count,
// the sync latencies (a metrics.Latencies) and the counters the committer
// publishes after each commit under a sequence number, which a reader
// retries on rather than lock.
package badgerstore
