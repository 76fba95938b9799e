package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// ErrLocked is returned by Open when another process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another process")

// Options configures Open. The zero value is usable.
type Options struct {
	// Now is the store's clock, used for timeouts on reads and for created,
	// settled and ready times. Default time.Now.
	Now func() time.Time
	// Logger receives the store's logs and Badger's warnings and errors
	// (Badger's info and debug chatter is dropped). Default slog.Default().
	Logger *slog.Logger
	// SearchScan bounds the promise ids one page of SearchPromises
	// examines. Default DefaultSearchScan.
	SearchScan int
	// Quota bounds what the store's files may occupy, in bytes; a write
	// that would pass it fails with a *store.StorageFullError naming
	// store.LimitStorage. 0: no bound.
	Quota int64
	// Reserve is the free space, in bytes, that writes must leave on the
	// store's file system; a write that would take it fails with a
	// *store.StorageFullError naming store.LimitDiskReserve. It must
	// cover what Badger writes on its own between two checks (flushes of
	// the memtables, compactions), or a full disk can still crash the
	// process (Badger's files are mmapped: a write the file system cannot
	// back is a SIGBUS). 0: none.
	Reserve int64
}

// DB is a store.Store backed by Badger. It is safe for concurrent use.
type DB struct {
	dir        string
	bdb        *badger.DB // replaced only by the committer, under direct
	now        func() time.Time
	log        *slog.Logger
	searchScan int // Options.SearchScan

	// space checks writes against the quota and the reserve; readOnly
	// says Badger is open read-only, because the disk was at its reserve
	// when the store opened: every write is refused until the committer
	// finds room and reopens it. Both are the committer's (and Open's,
	// before the committer starts).
	space    space
	readOnly bool

	mu      sync.Mutex // guards queue and closing
	queue   []*op
	closing bool
	signal  chan struct{} // cap 1: "the queue is not empty or we are closing"
	exited  chan struct{} // closed when the committer returns

	stats stats

	// pendingIndexed says the store holds the index of pending promises
	// (schema.go); until it does (a store of an earlier version opened
	// read-only), searches for pending promises scan every promise.
	pendingIndexed atomic.Bool

	// floors is where each time index's live entries begin; the committer's
	// (and voidLeases', before the committer starts).
	floors floors

	// failed is set by the committer when a commit or sync fails: Badger's
	// state on disk is then unknown, so every later operation fails with it.
	failed error

	// direct guards closed, so the direct readers never use Badger after
	// Close (they hold it for reading while they read).
	direct    sync.RWMutex
	closed    bool
	closeOnce sync.Once
	closeErr  error

	// reclaim lets one ReclaimSpace run at a time: the value-log rewrite
	// of one must not meet the flush of another, which blocks writes.
	reclaim sync.Mutex
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the store in dir.
//
// Badger locks dir, so this process owns the store exclusively; a second Open
// of the same dir, from this process or another, fails with ErrLocked. Because
// of that ownership, Open voids every owner's lease left by earlier
// processes: their tasks are claimable at once, so recovery after a crash
// finds every unfinished execution through ClaimTasks. That reads one record
// per earlier owner that still held tasks, not the tasks themselves.
func Open(dir string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SearchScan <= 0 {
		opts.SearchScan = DefaultSearchScan
	}
	log := opts.Logger.With("store", "badger", "dir", dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	d := &DB{
		dir:        dir,
		floors:     newFloors(),
		now:        opts.Now,
		log:        log,
		searchScan: opts.SearchScan,
		signal:     make(chan struct{}, 1),
		exited:     make(chan struct{}),
		space:      space{dir: dir, reserve: opts.Reserve, log: log},
	}
	d.space.quota.Store(opts.Quota)
	// Opening read-write writes at once (new log files, a flush of what
	// the memtables' logs hold): on a disk at its reserve, open read-only,
	// so that reads work and writes are refused rather than crash.
	if d.space.on() {
		d.space.measure()
		if !d.space.roomToOpen() {
			if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
				return nil, fmt.Errorf("open store %s: %w", dir, d.space.full())
			}
			d.readOnly = true
		}
	}
	bdb, err := openBadger(dir, log, d.readOnly)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	d.bdb = bdb
	if err := d.loadCounters(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if err := bdb.View(d.floors.load); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	if d.readOnly {
		// The indexes are brought up to date when it opens read-write;
		// until then, use those it has.
		v, err := d.schema()
		if err != nil {
			bdb.Close()
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		d.pendingIndexed.Store(v >= schemaPendingIndex)
		log.Warn("the disk is at its reserve: the store is open read-only, writes are refused until space is freed",
			"free", d.space.last.free, "reserve", d.space.reserve)
	} else if err := d.afterOpen(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	go d.commitLoop()
	return d, nil
}

// afterOpen brings the store's indexes up to date (migrate) and voids the
// task leases of earlier processes (the per-task leases of earlier
// versions, then the owners' leases), once Badger is open read-write.
func (d *DB) afterOpen() error {
	if err := d.migrate(); err != nil {
		return err
	}
	n, err := d.voidLegacyLeases()
	if err != nil {
		return fmt.Errorf("void leases: %w", err)
	}
	if n > 0 {
		d.log.Info("voided task leases of a previous process", "tasks", n)
	}
	owners, err := d.voidLeases()
	if err != nil {
		return fmt.Errorf("void leases: %w", err)
	}
	if owners > 0 {
		d.log.Info("voided task leases of a previous process", "owners", owners)
	}
	return nil
}

// reopenIfRoom reopens a read-only Badger read-write once the disk has room
// again above its reserve. The committer calls it before a batch; the
// direct readers wait meanwhile.
func (d *DB) reopenIfRoom() {
	if !d.readOnly || d.failed != nil {
		return
	}
	d.space.fresh(measureRefused)
	if !d.space.roomToOpen() {
		return
	}
	d.direct.Lock()
	defer d.direct.Unlock()
	if err := d.bdb.Close(); err != nil {
		d.log.Warn("close the read-only store", "err", err)
	}
	bdb, err := openBadger(d.dir, d.log, false)
	if err != nil {
		d.log.Error("reopen the store read-write; it stays read-only", "err", err)
		if bdb, err = openBadger(d.dir, d.log, true); err != nil {
			d.fail(fmt.Errorf("reopen read-only: %w", err))
			return
		}
		d.bdb = bdb
		return
	}
	d.bdb, d.readOnly = bdb, false
	d.log.Info("the disk has room again: the store is open read-write", "free", d.space.last.free, "reserve", d.space.reserve)
	if err := d.afterOpen(); err != nil {
		d.fail(err)
	}
}

// Close stops taking operations (they fail with store.ErrClosed), finishes
// the queued ones and closes Badger. Calling it again returns the
// first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closing = true
		d.mu.Unlock()
		d.wake()
		<-d.exited

		d.direct.Lock()
		d.closed = true
		d.direct.Unlock()
		if err := d.bdb.Close(); err != nil {
			d.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return d.closeErr
}

// SetQuota changes the store's quota (Options.Quota) from the next write
// on: a store at its quota takes writes again once it is raised.
func (d *DB) SetQuota(bytes int64) { d.space.quota.Store(bytes) }

// nowMs is the store clock in Unix ms.
func (d *DB) nowMs() int64 { return d.now().UnixMilli() }

// view runs fn in a read-only Badger transaction outside the committer. Use
// it only for data that never changes once written, or for a read that
// wants a snapshot rather than the committer's order (SearchPromises).
func (d *DB) view(fn func(*badger.Txn) error) error {
	d.direct.RLock()
	defer d.direct.RUnlock()
	if d.closed {
		return store.ErrClosed
	}
	return d.bdb.View(fn)
}

// op is one queued operation.
type op struct {
	ctx   context.Context
	fn    func(*tx) error
	state atomic.Int32
	err   error
	done  chan struct{}
}

const (
	opQueued int32 = iota
	opRunning
	opCanceled
)

// do runs fn in the committer and returns when its effects are durable.
// If ctx ends while fn is still queued, do returns ctx.Err() and fn never
// runs; once fn has started, do waits for it to finish.
func (d *DB) do(ctx context.Context, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan struct{}, 1)}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return store.ErrClosed
	}
	d.queue = append(d.queue, o)
	d.mu.Unlock()
	d.wake()

	select {
	case <-o.done:
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opCanceled) {
			return ctx.Err()
		}
		<-o.done
	}
	return o.err
}

func (d *DB) wake() {
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

// commitLoop is the committer goroutine.
func (d *DB) commitLoop() {
	defer close(d.exited)
	var ops []*op
	b := &batch{stats: &d.stats}
	t := &tx{log: d.log, index: make(map[string]int), floors: &d.floors, places: map[string][]byte{}}
	for range d.signal {
		for {
			d.mu.Lock()
			ops, d.queue = d.queue, ops[:0]
			closing := d.closing
			d.mu.Unlock()
			if len(ops) == 0 {
				if closing {
					return
				}
				break
			}
			d.runBatch(b, t, ops)
			clear(ops) // drop references for the GC
		}
	}
}

// runBatch runs ops in one transaction (or several, when they grow large),
// commits and releases the callers.
func (d *DB) runBatch(b *batch, t *tx, ops []*op) {
	d.reopenIfRoom()
	b.db = d.bdb
	b.begin()
	d.stats.ops.Add(uint64(len(ops)))
	for _, o := range ops {
		if !o.state.CompareAndSwap(opQueued, opRunning) {
			continue // its caller gave up waiting
		}
		switch {
		case d.failed != nil:
			o.err = d.failed
		case o.ctx.Err() != nil:
			o.err = o.ctx.Err()
		default:
			t.reset(b.txn, d.nowMs())
			o.err = runOp(o.fn, t)
			if o.err == nil && len(t.writes) > 0 {
				o.err = d.admit(t.bytes, t.frees)
			}
			if o.err == nil && len(t.writes) > 0 {
				var fatal error
				o.err, fatal = b.apply(t)
				if fatal != nil {
					d.fail(fatal)
				}
			}
			if o.err == nil {
				t.succeeded()
			}
		}
	}
	if d.failed == nil {
		if err := b.finish(); err != nil {
			d.fail(err)
		}
	} else {
		b.discard()
	}
	for _, o := range ops {
		if o.state.Load() != opRunning {
			continue
		}
		if d.failed != nil {
			// Whatever an operation of this batch saw or wrote may be lost.
			o.err = d.failed
		}
		o.done <- struct{}{}
	}
}

// admit lets an operation's n bytes of writes through, or refuses them
// with a *store.StorageFullError; the operation then writes nothing. An
// operation that frees space (a purge) passes at a limit, or a store at
// its quota could never get under it again; only a read-only Badger
// refuses it.
func (d *DB) admit(n int, frees bool) error {
	if d.readOnly {
		return d.space.full()
	}
	if frees {
		return nil
	}
	return d.space.admit(n)
}

func (d *DB) fail(err error) {
	if d.failed == nil {
		d.log.Error("store failed; every later operation will fail", "err", err)
		d.failed = fmt.Errorf("store failed: %w", err)
	}
}

// runOp runs fn, turning a panic into the operation's error so that one bad
// operation cannot take the committer (and every caller) down with it.
func runOp(fn func(*tx) error, t *tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store operation panicked: %v", r)
		}
	}()
	if err = fn(t); err == nil {
		err = t.err
	}
	return err
}

// badgerLogger routes Badger's warnings and errors to slog and drops the rest.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "source", "badger")
}

func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "source", "badger")
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
