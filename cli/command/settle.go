package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/store"
)

func (a *app) resolveCommand() *cli.Command {
	return a.settleCommand(store.Resolved, "resolve", "resolve a pending promise (e.g. an approval) with a value",
		`Resolves the pending promise ID with --value (JSON; none gives an empty value),
then runs whatever awaited it as far as it can go before exiting. Resolving
again with the same value is a no-op; with another, an error.`,
		`reprise resolve 3f2a9c0d1e4b5a6978675645.1 --value '"alice"'`)
}

func (a *app) rejectCommand() *cli.Command {
	return a.settleCommand(store.Rejected, "reject", "reject a pending promise with a value",
		`Rejects the pending promise ID with --value (JSON; by convention an object
{"error": "why"}; the default is {"error": "rejected"}), then runs whatever
awaited it as far as it can go before exiting.`,
		`reprise reject 3f2a9c0d1e4b5a6978675645.1 --value '{"error":"not today"}'`)
}

func (a *app) cancelCommand() *cli.Command {
	return a.settleCommand(store.RejectedCanceled, "cancel", "cancel an execution or a pending promise",
		`Rejects the execution or promise ID as canceled ({"error": "canceled"}); a
running execution is stopped. Whatever awaited it is run as far as it can go
before exiting.`,
		`reprise cancel 3f2a9c0d1e4b5a6978675645`)
}

func (a *app) settleCommand(state store.State, name, usage, what, example string) *cli.Command {
	var flags []cli.Flag
	usageText := "reprise " + name + " ID"
	if state != store.RejectedCanceled {
		flags = []cli.Flag{&cli.StringFlag{Name: "value", Usage: "the value: `JSON`, @FILE for a file's JSON, - for stdin"}}
		usageText = "reprise " + name + " [--value JSON] ID"
	}
	return &cli.Command{
		Name:         name,
		Usage:        usage,
		UsageText:    usageText,
		Description:  commandHelp(what, example),
		Flags:        flags,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			args, err := argsN(c, "ID")
			if err != nil {
				return err
			}
			id := args[0]
			var value []byte
			if state != store.RejectedCanceled {
				if value, err = a.jsonFlag(c, "value"); err != nil {
					return err
				}
			}
			if state == store.Rejected && value == nil {
				value = []byte(`{"error":"rejected"}`)
			}
			b, err := a.openBackend(c.Context)
			if err != nil {
				return err
			}
			defer closeReader(b, &err)
			p, err := a.settle(c.Context, b, id, state, value)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, p.ID, p.State)
			if err := b.Drive(c.Context, awaiter(id)...); err != nil {
				if c.Context.Err() != nil {
					return interrupted(fmt.Sprintf("interrupted; %s is %s and what awaits it is safe: `reprise worker` continues it", id, p.State))
				}
				return err
			}
			return nil
		},
	}
}

// settle settles promise id. The idempotency key is derived from the
// outcome, so repeating a command is a no-op while settling it otherwise
// is refused.
func (a *app) settle(ctx context.Context, b backend, id string, state store.State, value []byte) (store.Promise, error) {
	var p store.Promise
	var err error
	if state == store.RejectedCanceled {
		p, err = b.Cancel(ctx, id)
	} else {
		sum := sha256.Sum256(append([]byte{byte(state)}, value...))
		p, err = b.Settle(ctx, store.Settle{ID: id, State: state, Value: store.Value{Data: value},
			IdempotencyKey: "cli:" + hex.EncodeToString(sum[:16])})
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p, &exitError{code: ExitNotFound, err: err, msg: fmt.Sprintf(
			"no promise with id %q %s: check the id (`reprise ls --state pending` lists pending ones) or %s", id, a.where(), a.whereFlag())}
	case errors.Is(err, store.ErrForbidden):
		cur := "settled"
		if got, gerr := b.Promise(ctx, id); gerr == nil {
			cur = got.State.String()
		}
		verb := map[store.State]string{store.Resolved: "resolved", store.Rejected: "rejected", store.RejectedCanceled: "canceled"}[state]
		return p, &exitError{code: ExitFailed, err: err, msg: fmt.Sprintf("%s is already %s: it can no longer be %s", id, cur, verb)}
	case err != nil:
		return p, fmt.Errorf("settle %s: %w", id, err)
	}
	return p, nil
}

// awaiter guesses the execution that awaits promise id, which resolving it
// wakes: a child promise's id is <execution id>.<seq>.
func awaiter(id string) []string {
	if i := strings.LastIndexByte(id, '.'); i > 0 {
		return []string{id, id[:i]}
	}
	return []string{id}
}
