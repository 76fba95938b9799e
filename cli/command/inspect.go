package command

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/store"
)

func (a *app) getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print an execution or promise as JSON",
		UsageText: "reprise get ID",
		Description: commandHelp(`Prints the promise ID (every execution is one) as JSON:
  id, state (PENDING, RESOLVED, REJECTED, REJECTED_CANCELED, REJECTED_TIMEDOUT),
  param and value (embedded as JSON when they are JSON; otherwise a base64
  string and "paramEncoding"/"valueEncoding": "base64"; omitted when empty),
  timeout, createdOn, completedOn (RFC 3339, UTC; omitted when none), tags,
  and for an execution "execution": function, module (sha256), entry,
  attempt, attemptStart, parent, lastError.
Reads the data directory (or the server) only: it never runs anything.`,
			"reprise get 3f2a9c0d1e4b5a6978675645",
			"reprise get 3f2a9c0d1e4b5a6978675645.1"),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			args, err := argsN(c, "ID")
			if err != nil {
				return err
			}
			r, err := a.openReader()
			if err != nil {
				return err
			}
			defer closeReader(r, &err)
			p, err := r.Promise(c.Context, args[0])
			if err != nil {
				return a.lookupError(args[0], err)
			}
			v := viewPromise(p)
			e, err := r.Execution(c.Context, args[0])
			switch {
			case err == nil:
				v.Execution = viewExecution(e)
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("read execution %s: %w", args[0], err)
			}
			return a.writeJSON(v)
		},
	}
}

func (a *app) lookupError(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return a.notFound(id)
	}
	return fmt.Errorf("read %s: %w", id, err)
}

func (a *app) historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "print an execution's journal, one step a line",
		UsageText: "reprise history [options] ID",
		Description: commandHelp(`Prints the journal of execution ID: every host call it made, in order.
Columns:
  SEQ       the step's number (a child promise's id is <execution id>.<seq>)
  AT        when the call was made (local time)
  OP        invoke, sleep, promise, http, await_any, now or random
  CHILD     the promise the call made (invoke, sleep, promise, http)
  OUTCOME   for a call with a child, the child's state now; now: the time it
            returned; random: the first bytes, in hex; await_any: the index
            of the promise that settled first
  DURATION  for a call with a child, from the call until the child settled
            (how long the execution waited on it at most); "-" otherwise
The current attempt is shown; --attempt N shows an earlier one (an attempt
that trapped is retried as a new one; its journal is kept).
Reads the data directory (or the server) only: it never runs anything.`,
			"reprise history 3f2a9c0d1e4b5a6978675645",
			"reprise history --json 3f2a9c0d1e4b5a6978675645 | jq '.steps[] | select(.op == \"invoke\")'"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", DisableDefaultText: true, Usage: "print JSON: {id, function, state, attempt, lastError, steps: [{seq, op, time, child, outcome, durationMs}]}"},
			&cli.UintFlag{Name: "attempt", Usage: "show the journal of attempt `N`", DefaultText: "the current attempt"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			args, err := argsN(c, "ID")
			if err != nil {
				return err
			}
			id := args[0]
			r, err := a.openReader()
			if err != nil {
				return err
			}
			defer closeReader(r, &err)
			h, err := readHistory(c.Context, r, id, uint32(c.Uint("attempt")))
			if err != nil {
				if errors.Is(err, errNotExecution) {
					return withCode(ExitUsage, fmt.Errorf("%s is a promise, not an execution: it has no journal (`reprise get %s` shows it)", id, id))
				}
				return a.lookupError(id, err)
			}
			if c.Bool("json") {
				return a.writeJSON(h)
			}
			return a.printHistory(h)
		},
	}
}

// historyView is an execution's journal as history prints it.
type historyView struct {
	ID        string     `json:"id"`
	Function  string     `json:"function"`
	State     string     `json:"state"`
	Attempt   uint32     `json:"attempt"`
	Attempts  uint32     `json:"attempts"` // the current attempt's number
	LastError string     `json:"lastError,omitempty"`
	Steps     []stepView `json:"steps"`
}

type stepView struct {
	Seq        uint32 `json:"seq"`
	Op         string `json:"op"`
	Time       string `json:"time"`
	Child      string `json:"child,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
	DurationMs *int64 `json:"durationMs,omitempty"` // omitted for local calls and pending children

	at       time.Time
	duration string
}

var errNotExecution = errors.New("not an execution")

func readHistory(ctx context.Context, st reader, id string, attempt uint32) (historyView, error) {
	p, err := st.Promise(ctx, id)
	if err != nil {
		return historyView{}, err
	}
	e, err := st.Execution(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return historyView{}, errNotExecution
	}
	if err != nil {
		return historyView{}, err
	}
	if attempt == 0 {
		attempt = e.Attempt
	}
	if attempt > e.Attempt {
		return historyView{}, withCode(ExitUsage, fmt.Errorf("execution %s has %d attempt(s); --attempt %d does not exist", id, e.Attempt, attempt))
	}
	j, err := st.Journal(ctx, id, attempt)
	if err != nil {
		return historyView{}, fmt.Errorf("read journal: %w", err)
	}
	h := historyView{ID: id, Function: e.Function, State: p.State.String(), Attempt: attempt, Attempts: e.Attempt, LastError: e.LastError, Steps: []stepView{}}
	for _, en := range j {
		s := stepView{Seq: en.Seq, Op: en.Op.String(), Child: en.Child, at: time.Unix(0, en.Time), duration: "-"}
		s.Time = s.at.UTC().Format(jsonTime)
		if en.Child != "" {
			c, err := st.Promise(ctx, en.Child)
			if err != nil {
				return h, fmt.Errorf("read child %s: %w", en.Child, err)
			}
			s.Outcome = c.State.String()
			if c.State.Settled() {
				d := max(c.CompletedOn-s.at.UnixMilli(), 0)
				s.DurationMs = &d
				s.duration = (time.Duration(d) * time.Millisecond).String()
			} else {
				s.duration = "pending"
			}
		} else {
			s.Outcome = localOutcome(en)
		}
		h.Steps = append(h.Steps, s)
	}
	return h, nil
}

// localOutcome describes what a call without a child returned.
func localOutcome(e store.Entry) string {
	switch e.Op {
	case store.OpNow:
		if len(e.Outcome) == 8 {
			return time.Unix(0, int64(binary.BigEndian.Uint64(e.Outcome))).UTC().Format(time.RFC3339Nano)
		}
	case store.OpRandom:
		s := hex.EncodeToString(e.Outcome[:min(len(e.Outcome), 8)])
		if len(e.Outcome) > 8 {
			s += fmt.Sprintf("… (%d bytes)", len(e.Outcome))
		}
		return s
	case store.OpAwaitAny:
		if len(e.Outcome) == 4 {
			return fmt.Sprintf("index %d", binary.BigEndian.Uint32(e.Outcome))
		}
	}
	if len(e.Outcome) == 0 {
		return ""
	}
	return hex.EncodeToString(e.Outcome)
}

func (a *app) printHistory(h historyView) error {
	fmt.Fprintf(a.stdout, "execution %s · function %s · %s · attempt %d", h.ID, h.Function, h.State, h.Attempt)
	if h.Attempt != h.Attempts {
		fmt.Fprintf(a.stdout, " of %d", h.Attempts)
	}
	fmt.Fprintln(a.stdout)
	if len(h.Steps) == 0 {
		fmt.Fprintln(a.stdout, "(no journaled steps)")
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tAT\tOP\tCHILD\tOUTCOME\tDURATION")
		for _, s := range h.Steps {
			child := s.Child
			if child == "" {
				child = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.Seq, s.at.Format("15:04:05.000"), s.Op, child, s.Outcome, s.duration)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if h.Attempts > 1 && h.LastError != "" {
		first, _, _ := strings.Cut(h.LastError, "\n")
		fmt.Fprintf(a.stdout, "attempt %d failed: %s (`reprise history --attempt N %s` shows an earlier attempt)\n", h.Attempts-1, first, h.ID)
	}
	return nil
}
