package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/metrics"
)

// State is a durable promise's state.
type State uint8

// Promise states, as in Resonate's durable promise specification.
const (
	Pending State = iota
	Resolved
	Rejected
	RejectedCanceled
	RejectedTimedout
)

var stateNames = [...]string{"PENDING", "RESOLVED", "REJECTED", "REJECTED_CANCELED", "REJECTED_TIMEDOUT"}

// String returns the wire name, e.g. "REJECTED_TIMEDOUT".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// ParseState parses a wire name (case-insensitive is the caller's business).
func ParseState(s string) (State, error) {
	for i, n := range stateNames {
		if n == s {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("unknown promise state %q (want one of %v)", s, stateNames)
}

// Settled reports whether s is a final state.
func (s State) Settled() bool { return s != Pending }

// TimeoutTag marks a promise that resolves (rather than rejects) when its
// timeout passes; durable sleeps use it.
const TimeoutTag = "resonate:timeout"

// NoTimeout is the timeout of a promise that never times out.
const NoTimeout int64 = 1<<63 - 1

// Value is a promise's param or value.
type Value struct {
	Headers map[string]string
	Data    []byte
}

// Promise is a durable promise. Times are Unix milliseconds.
type Promise struct {
	ID                        string
	State                     State
	Param                     Value
	Value                     Value
	Timeout                   int64
	IdempotencyKeyForCreate   string
	IdempotencyKeyForComplete string
	Tags                      map[string]string
	CreatedOn                 int64
	CompletedOn               int64 // 0 while pending
}

// Effective returns the promise as a read at time now (Unix ms) must show it:
// a pending promise past its timeout reads as timed out (or resolved when it
// carries TimeoutTag "true"), whether or not the timer has fired yet.
func (p Promise) Effective(now int64) Promise {
	if p.State == Pending && now >= p.Timeout {
		p.State = TimedOutState(p.Tags)
		p.CompletedOn = p.Timeout
		p.Value = Value{}
	}
	return p
}

// TimedOutState is the state a pending promise with these tags takes when its
// timeout passes.
func TimedOutState(tags map[string]string) State {
	if tags[TimeoutTag] == "true" {
		return Resolved
	}
	return RejectedTimedout
}

// Execution is one run of a function for the promise with the same ID.
type Execution struct {
	ID       string
	Function string
	Module   string // sha256 of the module bytes, hex; replay always runs this code
	Entry    string // exported function the host calls
	Parent   string // the invoking execution's ID, "" for a top-level one
	// Attempt counts retries after traps, from 1. Each attempt has its own journal;
	// recovery after a crash continues the same attempt.
	Attempt uint32
	// AttemptStart is when the current attempt began, Unix nanoseconds: the
	// base of the guest's virtual clocks, so replay sees the same times.
	AttemptStart int64
	// LastError is the error that ended the previous attempt, kept for history.
	LastError string
}

// Op is the kind of a journaled host call.
type Op uint8

// Journaled host calls.
const (
	OpInvoke Op = iota + 1
	OpSleep
	OpPromise
	OpHTTP
	OpAwaitAny
	OpNow
	OpRandom
)

var opNames = [...]string{"", "invoke", "sleep", "promise", "http", "await_any", "now", "random"}

func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", o)
}

// Entry is one journaled host call of an execution attempt.
type Entry struct {
	Seq    uint32
	Op     Op
	Digest [16]byte // digest of the request (op and arguments), checked on replay
	Child  string   // the promise the call created, "" for local calls
	// Outcome is what replay answers with for calls whose result is not a
	// promise: now (8 bytes, big endian), random (the bytes), await_any (4
	// bytes, the index that won), and an invoke refused by a work limit
	// (its rejection value; Child is then "").
	Outcome []byte
	Time    int64 // Unix nanoseconds when the call was made (for history)
}

// Task says an execution must make progress. A task is claimed by one owner
// (a worker) under the owner's lease; an unclaimed one is ready from ReadyAt
// on.
type Task struct {
	Exec       string
	Owner      string // "" when not claimed
	LeaseUntil int64  // Unix ms: the owner's lease, which Heartbeat renews
	ReadyAt    int64  // Unix ms; retries wait for their backoff
}

// Function binds a name to a module. Deploying a name again adds a version.
type Function struct {
	Name      string
	Version   uint32
	Module    string // sha256 hex
	Entry     string
	CreatedOn int64 // Unix ms
}

// Create creates a promise. Creating an existing ID succeeds, returning the
// stored promise, when both idempotency keys are present and equal and either
// Strict is false or the promise is still pending; otherwise ErrConflict.
type Create struct {
	ID             string
	Timeout        int64 // Unix ms; NoTimeout for none
	Param          Value
	Tags           map[string]string
	IdempotencyKey string
	Strict         bool
}

// Start creates an execution's promise and, when the promise is new, the
// execution and a task for it claimed by the committing owner.
type Start struct {
	Promise   Create
	Execution Execution
}

// Settle settles a promise. Settling a settled promise succeeds without change
// when both idempotency keys are present and equal and not (Strict and another
// state was asked), or when it timed out and Strict is false; otherwise
// ErrForbidden. Settling an execution's promise ends the execution: its task
// is removed.
type Settle struct {
	ID             string
	State          State // Resolved, Rejected or RejectedCanceled
	Value          Value
	IdempotencyKey string
	Strict         bool
}

// Commit is one durable step of an execution: journal entries and the promises
// and child executions they create, optionally ending with a settlement (the
// execution's result). It is applied all or nothing.
type Commit struct {
	Exec    string
	Attempt uint32
	// Begin, when set, is the execution's own start, written first in this
	// commit rather than by an earlier StartExecution: an invocation whose
	// caller waits can then write its start and its result together. When
	// Begin's promise already exists, the commit writes nothing at all and
	// CommitResult.Begin is the stored promise (an existing execution of that
	// id is not this caller's to write). Begin.Promise.ID must be Exec.
	Begin   *Start
	Entries []Entry
	Creates []Create // promises of sleep, promise and http calls
	Starts  []Start  // child executions of invoke calls
	Settle  *Settle  // applied last, if present
}

// CommitResult reports what a Commit found or made.
type CommitResult struct {
	// Begin is set when Commit.Begin's promise already existed: it is that
	// promise as read now, and nothing else of the commit was written.
	Begin   *Promise
	Creates []Promise // in the order of Commit.Creates: the stored promise
	Starts  []Promise // likewise for Commit.Starts
	Settled *Promise  // the settled promise, when Commit.Settle was set
	// Claimed are tasks made ready by this operation (new child executions,
	// awaiters woken by a settlement), claimed for the committing owner.
	Claimed []Task
}

// SettleResult reports a settlement.
type SettleResult struct {
	Promise Promise
	Changed bool   // false when the call was an idempotent repeat
	Claimed []Task // awaiters woken, claimed for the settling owner
}

// Suspend parks an execution durably until one of Awaiting settles. If one
// already has (or reads as timed out), nothing is registered, the task stays
// claimed and Resumable is true. Otherwise callbacks are registered and the
// task is removed; a later settlement makes a new task for Exec.
type Suspend struct {
	Exec     string
	Attempt  uint32
	Entries  []Entry // pending journal entries, appended first
	Awaiting []string
}

// Query searches promises. IDGlob may use * for any run of characters; States
// empty means all; Tags must all match. Limit is capped at 100 (0 means 100).
type Query struct {
	IDGlob string
	States []State
	Tags   map[string]string
	Limit  int
	Cursor string
}

// Stats are a store's figures for monitoring. Reading them scans nothing:
// the store keeps them as it goes.
type Stats struct {
	// Executions counts executions by the stored state of their promise,
	// indexed by State (Executions[Resolved] is the resolved ones). They are
	// exact and durable: kept in the same transactions that start executions
	// and settle their promises. A pending promise past its timeout counts as
	// pending until its timeout is written (by Timeouts, or by a settle that
	// finds it timed out); reads show it timed out before that.
	// A purged execution is no longer counted (see Purged).
	Executions [RejectedTimedout + 1]uint64
	// JournalBytes is the size of the stored journals, keys and values
	// (durable): what they occupy before the storage engine's own
	// overhead. A purge takes the journals it deletes off it.
	JournalBytes uint64
	// Purged counts the executions purged since the store was created
	// (durable).
	Purged uint64
	// Operations counts the store operations run since the store was opened,
	// reads included.
	Operations uint64
	// Syncs is the latency of the store's durable commits (each one fsync for
	// a group of operations) since the store was opened; Syncs.Count is the
	// number of those commits, so Operations / Syncs.Count is how many
	// operations share a sync on average.
	Syncs metrics.Histogram
}

// Sentinel errors. Wrapped errors carry details; test with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")  // create with another idempotency key, or strict on a settled promise
	ErrForbidden = errors.New("forbidden") // settle of a promise settled otherwise
	ErrNotOwner  = errors.New("task not owned by this worker")
	ErrInvalid   = errors.New("invalid argument") // a malformed request, e.g. a bad cursor or settle state
	ErrClosed    = errors.New("store closed")
	// ErrStorageFull is what a write refused for lack of space wraps (as a
	// *StorageFullError, which says which limit); reads keep working.
	ErrStorageFull = errors.New("storage full")
)

// The limits a StorageFullError names.
const (
	// LimitStorage is a store's quota: the bytes its files may occupy.
	LimitStorage = "storage"
	// LimitDiskReserve is the free space a server keeps on the file system
	// of its data, so that no write ever finds the disk full.
	LimitDiskReserve = "disk_reserve"
)

// StorageFullError is a write refused because the store is at a limit of
// space: Limit is LimitStorage or LimitDiskReserve. Writes succeed again
// once space returns (data deleted, the disk freed or the limit raised).
type StorageFullError struct {
	Limit string
	// Used and Max are the figures of the limit at the refusal, in bytes:
	// the store's size and its quota, or the file system's free space and
	// the reserve that free space may not go under.
	Used, Max int64
}

func (e *StorageFullError) Error() string {
	if e.Limit == LimitDiskReserve {
		return fmt.Sprintf("limit %s: storage full: %d bytes free on the data's disk, under the %d kept free so that a full disk "+
			"cannot crash the process; writes resume once space is freed there (reads still work)", e.Limit, e.Used, e.Max)
	}
	return fmt.Sprintf("limit %s: storage full: the store holds %d bytes of its quota of %d; "+
		"writes resume when the quota is raised (reads still work)", e.Limit, e.Used, e.Max)
}

// Is makes errors.Is(err, ErrStorageFull) true.
func (e *StorageFullError) Is(target error) bool { return target == ErrStorageFull }

// Store is Reprise's durable state. Every method is one transaction and is
// linearizable; a method that returns without error has made its writes
// durable (synced). Implementations group the syncs of concurrent callers.
// Times passed in are Unix ms of the caller's clock; reads evaluate timeouts
// with the store's clock.
type Store interface {
	// Promises.
	CreatePromise(ctx context.Context, c Create) (p Promise, created bool, err error)
	SettlePromise(ctx context.Context, s Settle, owner string, leaseUntil int64) (SettleResult, error)
	GetPromise(ctx context.Context, id string) (Promise, error)
	SearchPromises(ctx context.Context, q Query) (page []Promise, cursor string, err error)

	// Executions and journals.
	// Commit applies an execution step; owner claims the tasks it makes ready.
	// Commit and Suspend fail with ErrNotOwner when the execution's task is
	// claimed by another owner (the caller lost its lease).
	Commit(ctx context.Context, c Commit, owner string, leaseUntil int64) (CommitResult, error)
	// StartExecution is a top-level invoke: Start plus no parent journal.
	StartExecution(ctx context.Context, s Start, owner string, leaseUntil int64) (p Promise, created bool, err error)
	GetExecution(ctx context.Context, id string) (Execution, error)
	ReadJournal(ctx context.Context, exec string, attempt uint32) ([]Entry, error)
	Suspend(ctx context.Context, s Suspend, owner string) (resumable bool, err error)
	// Retry starts attempt e.Attempt (with e.AttemptStart, e.LastError) and makes
	// the task ready again at readyAt, unclaimed. ErrNotOwner when the task is
	// gone or claimed by another owner.
	Retry(ctx context.Context, e Execution, owner string, readyAt int64) error

	// Tasks.
	// ClaimTasks claims up to max ready tasks (unclaimed with ReadyAt <= now,
	// or held by an owner whose lease has lapsed). next is the earliest
	// ReadyAt of the tasks it left (now or earlier when more are claimable
	// at once), 0 when none. Its cost follows max, not how many tasks wait:
	// the tasks of a lapsed owner are reclaimed a slice at a time.
	ClaimTasks(ctx context.Context, owner string, now, leaseUntil int64, max int) (claimed []Task, next int64, err error)
	// Heartbeat renews owner's lease until leaseUntil. A claimed task's
	// lease is its owner's, so this renews every task owner holds, at a
	// cost that does not grow with how many it holds. Operations that
	// claim tasks for an owner extend its lease to at least their
	// leaseUntil.
	Heartbeat(ctx context.Context, owner string, leaseUntil int64) error
	// ReleaseTasks unclaims the given tasks (ready now), e.g. on shutdown.
	ReleaseTasks(ctx context.Context, owner string, execs []string) error

	// Timers.
	// Timeouts settles every pending promise whose timeout is <= now (up to
	// max), waking awaiters as SettlePromise does. next is the earliest
	// remaining timeout, 0 when none.
	Timeouts(ctx context.Context, now int64, max int, owner string, leaseUntil int64) (settled []Promise, claimed []Task, next int64, err error)

	// Retention.
	// Purge deletes settled promises whose settlement (CompletedOn) is
	// before `before` (Unix ms), with all that belongs to them: executions,
	// every attempt's journal, callbacks and indexes. It never deletes a
	// pending promise, nor a promise an execution created (its invoke,
	// sleep, promise and http children) while that execution is pending,
	// for its replay reads them; those go once their creator has been
	// purged and they are past the period themselves. One call does at
	// most about max reads and deletions, as one operation, so it never
	// holds up other operations for long; purged is how many promises it
	// deleted, and more is true when more may be due before `before`: call
	// again. Its cost follows what it deletes, not the store's history.
	Purge(ctx context.Context, before int64, max int) (purged int, more bool, err error)
	// ReclaimSpace returns the space of deleted records to the file system
	// (a storage engine's garbage collection). It may take a while, but
	// does not hold up other operations.
	ReclaimSpace(ctx context.Context) error

	// Modules and functions.
	PutModule(ctx context.Context, hash string, wasm []byte) error
	GetModule(ctx context.Context, hash string) ([]byte, error)
	PutFunction(ctx context.Context, name, module, entry string) (Function, error)
	GetFunction(ctx context.Context, name string) (Function, error) // latest version
	ListFunctions(ctx context.Context) ([]Function, error)          // latest version of each name
	// DeleteFunction unbinds name (ErrNotFound when it is not bound). Its
	// versions and modules stay, so executions pinned to them still replay;
	// deploying the name again continues its version numbers.
	DeleteFunction(ctx context.Context, name string) error

	// Stats returns the store's figures (see Stats). It is cheap enough to
	// call on every metrics scrape.
	Stats(ctx context.Context) (Stats, error)

	Close() error
}
