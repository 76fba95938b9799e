package command

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// timerGrace is how long after a sleep's deadline worker --until-idle
// allows the host's timer to fire and wake the sleeper before it looks
// again, since a sleep past its deadline no longer reads as pending.
const timerGrace = 250 * time.Millisecond

func (a *app) workerCommand() *cli.Command {
	return &cli.Command{
		Name:      "worker",
		Usage:     "keep running: resume unfinished executions, fire timers, run new work",
		UsageText: "reprise worker [--until-idle]",
		Description: commandHelp(`Runs on the data directory until SIGINT (Ctrl-C) or SIGTERM: it resumes every
unfinished execution (after a crash, by replaying its journal), fires durable
sleeps and promise timeouts when they are due, and runs what they wake. On
SIGINT or SIGTERM it stops cleanly: running executions are saved and resume
on the next start. While it runs, it holds the data directory: other reprise
commands on it fail with exit code 3.

--until-idle exits by itself once nothing runs or sleeps any more: every
execution has finished or waits for a promise settled from outside.`,
			"reprise worker",
			"reprise worker --until-idle"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "until-idle", DisableDefaultText: true, Usage: "exit once every execution has finished or waits for a promise settled from outside (no sleep pending)"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if _, err := argsN(c); err != nil {
				return err
			}
			ctx := c.Context
			s, err := a.openHost(ctx)
			if err != nil {
				return err
			}
			defer s.closeInto(&err)
			a.log.Info("worker running; Ctrl-C or SIGTERM stops it", "data", a.dataDir)
			if c.Bool("until-idle") {
				if err := untilIdle(ctx, s); err != nil && ctx.Err() == nil {
					return err
				}
				if ctx.Err() == nil {
					a.log.Info("idle: nothing runs or sleeps; stopping")
					return nil
				}
			}
			<-ctx.Done()
			a.log.Info("stopping: unfinished executions are saved and resume on the next start")
			return nil
		},
	}
}

// untilIdle returns once nothing runs or sleeps: the host is idle, no sleep
// is pending and no execution waits to be retried.
func untilIdle(ctx context.Context, s *session) error {
	// Let the timer loop's first pass wake sleepers whose deadline passed
	// while no process ran: WaitIdle only knows about executions once they
	// are dispatched.
	if err := sleepCtx(ctx, timerGrace); err != nil {
		return err
	}
	for {
		if err := s.h.WaitIdle(ctx); err != nil {
			return err
		}
		next, err := nextSleep(ctx, s.db)
		if err != nil {
			return err
		}
		if next != 0 {
			if err := sleepCtx(ctx, time.Until(time.UnixMilli(next))+timerGrace); err != nil {
				return err
			}
			continue
		}
		retrying, err := anyRetryPending(ctx, s.db)
		if err != nil {
			return err
		}
		if !retrying {
			return nil
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// nextSleep is the earliest deadline of a pending durable sleep, 0 if none.
func nextSleep(ctx context.Context, st store.Store) (int64, error) {
	ps, _, err := searchAll(ctx, storeSearcher{st}, store.Query{States: []store.State{store.Pending}, Tags: map[string]string{host.TagKind: "sleep"}})
	if err != nil {
		return 0, err
	}
	var next int64
	for _, p := range ps {
		if next == 0 || p.Timeout < next {
			next = p.Timeout
		}
	}
	return next, nil
}

// anyRetryPending reports whether some pending execution waits out the
// backoff before its next attempt.
func anyRetryPending(ctx context.Context, st store.Store) (bool, error) {
	ps, _, err := searchAll(ctx, storeSearcher{st}, store.Query{States: []store.State{store.Pending}})
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Tags[host.TagFunction] == "" {
			continue
		}
		r, err := retryPending(ctx, st, p.ID)
		if err != nil || r {
			return r, err
		}
	}
	return false, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait: %w", ctx.Err())
	}
}
