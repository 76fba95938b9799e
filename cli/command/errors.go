package command

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// Exit codes. They are documented in `reprise --help` (see exitCodesHelp);
// scripts branch on them, so they never change meaning.
const (
	ExitOK          = 0   // success
	ExitFailed      = 1   // the execution was rejected, or the command failed at runtime (a server unreachable, a token refused)
	ExitUsage       = 2   // bad usage or bad input: flags, JSON, names, not Wasm, ABI mismatch
	ExitLocked      = 3   // the data directory is held by another reprise process
	ExitNotFound    = 4   // unknown function, execution or promise
	ExitStorageFull = 5   // a write refused at a storage limit (the store's quota, the disk's reserve)
	ExitInterrupted = 130 // interrupted by Ctrl-C (SIGINT) or SIGTERM
)

const exitCodesHelp = `EXIT CODES:
   0    success
   1    the execution was rejected, canceled or timed out (run, invoke --wait),
        or the command failed at runtime; with --server also: the server cannot
        be reached, refused the token (401) or a limit is reached (429)
   2    bad usage or bad input: unknown flag or command, invalid JSON, bad name,
        a file that is not WebAssembly, a module built for another ABI version
        (with --server: what the server answers 400, 413 or 415)
   3    the data directory is in use by another reprise process
   4    not found: unknown function, execution or promise id (on the server: 404)
   5    storage full: a write was refused at the store's quota or at the free
        space kept on its disk (on the server: 507); reads still work, and
        writes resume once space is freed (or, with --disk-reserve, reserved less)
   130  interrupted by Ctrl-C (SIGINT) or SIGTERM; executions stay safe`

// exitError is an error that decides the process's exit code. msg, when set,
// replaces the wrapped error's text (the wrapped one stays reachable for
// errors.Is).
type exitError struct {
	code int
	msg  string
	err  error
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode gives err an exit code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf is a bad-usage error (exit 2).
func usageErrorf(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// errInterrupted marks a command stopped by a signal; its message says what
// became of the work.
var errInterrupted = errors.New("interrupted")

func interrupted(msg string) error {
	return &exitError{code: ExitInterrupted, msg: msg, err: errInterrupted}
}

// errRejected marks an execution that ended rejected (run, invoke --wait).
var errRejected = errors.New("execution rejected")

// exitCode maps an error to the process's exit code: an explicit code first,
// then the host's and the store's sentinel errors.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ce cli.ExitCoder // urfave/cli's own, e.g. `reprise help nosuch`
	if errors.As(err, &ce) {
		return ExitUsage
	}
	switch {
	case errors.Is(err, badgerstore.ErrLocked):
		return ExitLocked
	case errors.Is(err, store.ErrStorageFull):
		return ExitStorageFull
	case errors.Is(err, host.ErrUnknownFunction), errors.Is(err, store.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, host.ErrInvalidModule), errors.Is(err, host.ErrBadName),
		errors.Is(err, host.ErrTooLarge), errors.Is(err, store.ErrConflict),
		errors.Is(err, store.ErrInvalid):
		return ExitUsage
	}
	return ExitFailed
}
