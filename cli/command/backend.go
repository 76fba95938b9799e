package command

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// The commands act through two small interfaces, so each has one code path
// whether it works on the data directory or, with --server, on a running
// `reprise serve`. Errors keep the host's and store's sentinels
// (store.ErrNotFound, host.ErrUnknownFunction, …) on both sides, so the
// commands branch and pick exit codes the same way.

// reader is what the read-only commands (functions, get, history, ls) and
// progress need. The local one reads the store without starting a host, so
// reading never runs an execution.
type reader interface {
	Function(ctx context.Context, name string) (store.Function, error)
	Functions(ctx context.Context) ([]store.Function, error)
	Promise(ctx context.Context, id string) (store.Promise, error)
	// Execution is store.ErrNotFound for a promise that is no execution.
	Execution(ctx context.Context, id string) (store.Execution, error)
	// Journal reads an attempt's journal; attempt 0 is the current one.
	Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error)
	Search(ctx context.Context, q store.Query) ([]store.Promise, string, error)
	Close() error
}

// backend is what the commands that change things need: a host on the data
// directory (*session), or a server (*remote).
type backend interface {
	reader
	Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error)
	Invoke(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (string, error)
	// InvokeWait invokes and waits until the execution settles, or ctx
	// ends (then its error). Both backends run it as host.InvokeWait
	// does, so a guest that makes no durable call is written start and
	// result in one commit; until its start is durable, the execution is
	// private to the call, and ending ctx drops it.
	InvokeWait(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (store.Promise, error)
	// Settle settles a promise; store.ErrForbidden if it is settled otherwise.
	Settle(ctx context.Context, s store.Settle) (store.Promise, error)
	// Cancel cancels an execution or a pending promise.
	Cancel(ctx context.Context, id string) (store.Promise, error)
	// Drive runs the work a command started or woke as far as it goes
	// without the outside world, so the command can exit; watch are
	// executions that may be waiting out a retry's backoff. A server runs
	// work itself: there it returns at once.
	Drive(ctx context.Context, watch ...string) error
}

// openBackend opens where the commands that change things act: the server
// with --server, else a host on the data directory (it resumes unfinished
// executions while the command runs).
func (a *app) openBackend(ctx context.Context) (backend, error) {
	if a.remote != nil {
		return a.remote, nil
	}
	return a.openHost(ctx)
}

// openReader opens where the read-only commands read: the server with
// --server, else the data directory's store; a data directory that holds
// no store yet reads as empty (and is not created).
func (a *app) openReader() (reader, error) {
	if a.remote != nil {
		return a.remote, nil
	}
	db, err := a.openStoreToRead()
	if errors.Is(err, errNoData) {
		return emptyReader{}, nil
	}
	if err != nil {
		return nil, err
	}
	return storeReader{db}, nil
}

// closeReader closes r and reports a failure through *err unless the
// command already failed.
func closeReader(r reader, err *error) {
	if cerr := r.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// storeReader reads a store directly.
type storeReader struct{ st *badgerstore.DB }

func (r storeReader) Function(ctx context.Context, name string) (store.Function, error) {
	return r.st.GetFunction(ctx, name)
}

func (r storeReader) Functions(ctx context.Context) ([]store.Function, error) {
	return r.st.ListFunctions(ctx)
}

func (r storeReader) Promise(ctx context.Context, id string) (store.Promise, error) {
	return r.st.GetPromise(ctx, id)
}

func (r storeReader) Execution(ctx context.Context, id string) (store.Execution, error) {
	return r.st.GetExecution(ctx, id)
}

func (r storeReader) Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error) {
	if attempt == 0 {
		e, err := r.st.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		attempt = e.Attempt
	}
	return r.st.ReadJournal(ctx, id, attempt)
}

func (r storeReader) Search(ctx context.Context, q store.Query) ([]store.Promise, string, error) {
	return r.st.SearchPromises(ctx, q)
}

func (r storeReader) Close() error { return r.st.Close() }

// emptyReader is a data directory with no store yet: it holds nothing.
type emptyReader struct{}

func (emptyReader) Function(ctx context.Context, name string) (store.Function, error) {
	return store.Function{}, fmt.Errorf("function %q: %w", name, store.ErrNotFound)
}

func (emptyReader) Functions(context.Context) ([]store.Function, error) { return nil, nil }

func (emptyReader) Promise(_ context.Context, id string) (store.Promise, error) {
	return store.Promise{}, fmt.Errorf("promise %q: %w", id, store.ErrNotFound)
}

func (emptyReader) Execution(_ context.Context, id string) (store.Execution, error) {
	return store.Execution{}, fmt.Errorf("execution %q: %w", id, store.ErrNotFound)
}

func (emptyReader) Journal(_ context.Context, id string, _ uint32) ([]store.Entry, error) {
	return nil, fmt.Errorf("execution %q: %w", id, store.ErrNotFound)
}

func (emptyReader) Search(context.Context, store.Query) ([]store.Promise, string, error) {
	return nil, "", nil
}

func (emptyReader) Close() error { return nil }

// A session is the local backend: a host on the data directory's store.

func (s *session) Function(ctx context.Context, name string) (store.Function, error) {
	return s.db.GetFunction(ctx, name)
}

func (s *session) Functions(ctx context.Context) ([]store.Function, error) {
	return s.db.ListFunctions(ctx)
}

func (s *session) Promise(ctx context.Context, id string) (store.Promise, error) {
	return s.h.Get(ctx, id)
}

func (s *session) Execution(ctx context.Context, id string) (store.Execution, error) {
	return s.h.Execution(ctx, id)
}

func (s *session) Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error) {
	return s.h.Journal(ctx, id, attempt)
}

func (s *session) Search(ctx context.Context, q store.Query) ([]store.Promise, string, error) {
	return s.h.Search(ctx, q)
}

func (s *session) Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error) {
	return s.h.Deploy(ctx, name, wasm, entry)
}

func (s *session) Invoke(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (string, error) {
	return s.h.Invoke(ctx, name, input, opts)
}

func (s *session) InvokeWait(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (store.Promise, error) {
	p, err := s.h.InvokeWait(ctx, name, input, opts, heldFor(opts, math.MaxInt64))
	if err != nil || p.State.Settled() {
		return p, err
	}
	return s.h.Await(ctx, p.ID)
}

// heldFor is how long an invoke --wait lets host.InvokeWait hold the
// execution's start back, at most max: no longer than its timeout, since
// only a durable start has a timer to time it out.
func heldFor(opts host.InvokeOptions, max time.Duration) time.Duration {
	if opts.Timeout > 0 {
		return min(opts.Timeout, max)
	}
	return max
}

func (s *session) Settle(ctx context.Context, st store.Settle) (store.Promise, error) {
	res, err := s.h.Settle(ctx, st)
	return res.Promise, err
}

func (s *session) Cancel(ctx context.Context, id string) (store.Promise, error) {
	return s.h.Cancel(ctx, id)
}

// Close stops the host gracefully and closes the store.
func (s *session) Close() error { return s.close() }

var (
	_ backend = (*session)(nil)
	_ reader  = storeReader{}
	_ reader  = emptyReader{}
)
