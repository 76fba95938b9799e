package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/names"
	"github.com/reprise-wasm/reprise/store"
)

// Flags shared by run and invoke.
func invokeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "input", Usage: "the execution's input: `JSON`, @FILE for a file's JSON, - for stdin"},
		&cli.StringFlag{Name: "id", Usage: "the execution's `ID`; invoking an id again returns that execution (it runs once)", DefaultText: "random"},
		&cli.DurationFlag{Name: "timeout", Usage: "reject the execution as timed out if it has not finished within `DURATION` (e.g. 30s, 24h)", DefaultText: "none"},
	}
}

func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "deploy modules, invoke the first, wait and print its result",
		UsageText: "reprise run [options] FILE.wasm|GO-GUEST-DIR [FILE.wasm|GO-GUEST-DIR...]",
		Description: commandHelp(`Deploys each module under the name of its file (without .wasm) or its
directory, invokes the first with --input, waits for the result and prints
it on stdout. A directory is a Go guest: it is built first (GOOS=wasip1
GOARCH=wasm, cached in the data directory), so only Go is needed. A module
whose latest version is already deployed is not deployed again.

A rejected execution prints its error on stderr and exits 1. Ctrl-C leaves
the execution safe: `+"`reprise worker`"+` or `+"`reprise invoke NAME --id ID --wait`"+`
continues it.`,
			`reprise run examples/wasm/hello --input '{"name":"Ada"}'`,
			`reprise run examples/wasm/fanout examples/wasm/square --input '{"n":100,"child":"square"}'`,
			`reprise run hello.wasm`),
		Flags:        invokeFlags(),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if c.NArg() == 0 {
				return usageErrorf("missing FILE.wasm|GO-GUEST-DIR; usage: %s", c.Command.UsageText)
			}
			input, err := a.jsonFlag(c, "input")
			if err != nil {
				return err
			}
			var srcs []source
			for _, arg := range c.Args().Slice() {
				src, err := parseSource(arg)
				if err != nil {
					return err
				}
				srcs = append(srcs, src)
			}
			opts, err := a.invokeOptions(c)
			if err != nil {
				return err
			}
			ctx := c.Context
			b, err := a.openBackend(ctx)
			if err != nil {
				return err
			}
			defer closeReader(b, &err)
			for _, src := range srcs {
				if err := a.deployForRun(ctx, b, src); err != nil {
					return err
				}
			}
			return a.invoke(ctx, b, srcs[0].name, input, opts, true)
		},
	}
}

func (a *app) invokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "invoke",
		Usage:     "start an execution of a deployed function; print its id, or its result with --wait",
		UsageText: "reprise invoke [options] NAME",
		Description: commandHelp(`Starts an execution of the latest version of function NAME with --input.
Without --wait it prints the execution's id, then runs the execution (and
any other unfinished one) as far as it can go before exiting: until it
finishes or waits for a promise someone settles (reprise resolve) or for a
timer (a durable sleep: the next `+"`reprise worker`"+` or command that runs
work fires it).

With --wait it waits for the result and prints it; on a terminal a status
line shows the steps done, the children pending and what it waits for.
Ctrl-C leaves the execution safe: `+"`reprise worker`"+` or the same command
with the same --id continues it. The same --id twice runs it once.

With --server, the server runs the execution: without --wait the command
prints the id and returns once the execution started.`,
			`reprise invoke approval --input '{"request":"deploy v2"}'`,
			`reprise invoke sleep --input '{"ms":2000}' --id nap-1 --wait`),
		Flags:        append(invokeFlags(), &cli.BoolFlag{Name: "wait", DisableDefaultText: true, Usage: "wait for the result and print it"}),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			args, err := argsN(c, "NAME")
			if err != nil {
				return err
			}
			input, err := a.jsonFlag(c, "input")
			if err != nil {
				return err
			}
			opts, err := a.invokeOptions(c)
			if err != nil {
				return err
			}
			b, err := a.openBackend(c.Context)
			if err != nil {
				return err
			}
			defer closeReader(b, &err)
			return a.invoke(c.Context, b, args[0], input, opts, c.Bool("wait"))
		},
	}
}

func (a *app) invokeOptions(c *cli.Context) (host.InvokeOptions, error) {
	return host.InvokeOptions{ID: c.String("id"), Timeout: c.Duration("timeout")}, nil
}

// deployForRun deploys src under its name unless that function's latest
// version already is this module, so repeated runs add no versions.
func (a *app) deployForRun(ctx context.Context, b backend, src source) error {
	wasm, err := a.load(ctx, src)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(wasm)
	f, err := b.Function(ctx, src.name)
	switch {
	case err == nil && f.Module == hex.EncodeToString(sum[:]) && f.Entry == abi.DefaultEntry:
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up function %s: %w", src.name, err)
	}
	_, err = a.deploy(ctx, b, src.name, src, wasm, "")
	return err
}

// invoke starts an execution and either waits for its outcome or drives it
// as far as it goes. The id is chosen here when none is given, so that the
// command knows it while it waits, and even if a server's answer is lost.
func (a *app) invoke(ctx context.Context, b backend, name string, input []byte, opts host.InvokeOptions, wait bool) error {
	given := opts.ID
	if opts.ID == "" {
		opts.ID = names.NewID()
	}
	if wait {
		stop := a.showProgress(ctx, b, opts.ID)
		p, err := b.InvokeWait(ctx, name, input, opts)
		stop()
		switch {
		case err == nil:
			return a.outcome(p)
		case ctx.Err() != nil:
			return a.interruptedWaiting(ctx, b, name, opts.ID)
		}
		return a.invokeError(ctx, name, given, err)
	}
	id, err := b.Invoke(ctx, name, input, opts)
	if err != nil {
		return a.invokeError(ctx, name, given, err)
	}
	fmt.Fprintln(a.stdout, id)
	if err := b.Drive(ctx, id); err != nil {
		if ctx.Err() != nil {
			return a.interruptedSafe(name, id)
		}
		return err
	}
	return nil
}

// interruptedSafe is the error of a command interrupted once execution id
// was durable: it carries on, or resumes later.
func (a *app) interruptedSafe(name, id string) error {
	if a.remote != nil {
		return interrupted(fmt.Sprintf("interrupted; the execution %s carries on on the server: `reprise invoke %s --id %s --wait` waits for it again", id, name, id))
	}
	return interrupted(fmt.Sprintf("interrupted; the execution %s is safe: `reprise worker` or `reprise invoke %s --id %s --wait` continues it", id, name, id))
}

// interruptedWaiting is the error of an invoke --wait interrupted: the
// execution is kept if its start was durable by then, and dropped if not
// (it had made no durable call: nothing of it was seen outside).
func (a *app) interruptedWaiting(ctx context.Context, b backend, name, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := b.Promise(ctx, id)
	switch {
	case err == nil:
		return a.interruptedSafe(name, id)
	case errors.Is(err, store.ErrNotFound):
		return interrupted(fmt.Sprintf("interrupted before the execution %s made a durable step, so nothing of it is kept: `reprise invoke %s --id %s --wait` runs it anew", id, name, id))
	}
	return interrupted("interrupted while starting the execution; `reprise ls --function " + name + "` shows whether it started")
}

func (a *app) invokeError(ctx context.Context, name, id string, err error) error {
	switch {
	case ctx.Err() != nil:
		return interrupted("interrupted while starting the execution; `reprise ls --function " + name + "` shows whether it started")
	case errors.Is(err, host.ErrUnknownFunction):
		return fmt.Errorf("%w (`reprise functions` lists the deployed ones)", err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w; choose another --id", err)
	case errors.Is(err, host.ErrTooLarge):
		return fmt.Errorf("--input: %w", err)
	case id != "" && errors.Is(err, host.ErrBadName):
		return fmt.Errorf("--id: %w", err)
	}
	return fmt.Errorf("invoke %s: %w", name, err)
}

// outcome prints a settled execution's result, or returns its rejection
// (exit code 1).
func (a *app) outcome(p store.Promise) error {
	how := "was rejected"
	switch p.State {
	case store.Resolved:
		a.writeValue(p.Value.Data)
		return nil
	case store.RejectedCanceled:
		how = "was canceled"
	case store.RejectedTimedout:
		return &exitError{code: ExitFailed, err: errRejected, msg: fmt.Sprintf("execution %s timed out", p.ID)}
	}
	msg := rejection(p.Value.Data)
	if strings.Contains(msg, "outbound http is not enabled") || strings.Contains(msg, "not in the allowlist") {
		if a.remote != nil {
			msg += "\n(the server grants outbound HTTP: start it with --allow-http HOST, e.g. reprise --allow-http example.com serve)"
		} else {
			msg += "\n(grant outbound HTTP with --allow-http HOST, e.g. reprise --allow-http example.com run ...)"
		}
	}
	return &exitError{code: ExitFailed, err: errRejected, msg: fmt.Sprintf("execution %s %s: %s", p.ID, how, msg)}
}

// Drive runs the work this command started or woke as far as it can go
// without the outside world, so the command can exit: until every execution
// the host drives is finished or waits for an external promise or a timer.
// host.WaitIdle does not count an execution waiting out the backoff before
// a retry, so Drive also waits while one of watch is in that state.
func (s *session) Drive(ctx context.Context, watch ...string) error {
	for {
		if err := s.h.WaitIdle(ctx); err != nil {
			return err
		}
		retrying := false
		for _, id := range watch {
			r, err := retryPending(ctx, s.db, id)
			if err != nil {
				return err
			}
			retrying = retrying || r
		}
		if !retrying {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// retryPending reports whether execution id is pending between a failed
// attempt and the next: its record names a last error and the current
// attempt has journaled nothing yet.
func retryPending(ctx context.Context, st store.Store, id string) (bool, error) {
	p, err := st.GetPromise(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.State.Settled() {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	e, err := st.GetExecution(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && e.LastError == "" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	j, err := st.ReadJournal(ctx, id, e.Attempt)
	return len(j) == 0, err
}
