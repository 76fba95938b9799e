package command

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// lsScanMax bounds how many promises ls reads: the store lists promises by
// id, so finding the newest means reading them all and sorting.
const lsScanMax = 100_000

func (a *app) lsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list executions and promises, newest first",
		UsageText: "reprise ls [options]",
		Description: commandHelp(`Lists executions and the promises they made (sleeps, promises settled from
outside, HTTP requests), newest first: it shows the newest --limit of those
matching the filters (20 by default; --limit 0 shows all). A child promise's
id is <execution id>.<step>. Reads the data directory (or the server) only.`,
			"reprise ls",
			"reprise ls --state pending",
			"reprise ls --function approval --limit 100"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "only promises in this `STATE`: pending, resolved, rejected (any of the three rejected states), canceled or timedout"},
			&cli.StringFlag{Name: "function", Usage: "only executions of the function `NAME`"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "show the newest `N`; 0 shows all"},
			&cli.BoolFlag{Name: "json", DisableDefaultText: true, Usage: "print a JSON array of promises (shaped as by reprise get, without \"execution\")"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if _, err := argsN(c); err != nil {
				return err
			}
			states, err := parseStateFilter(c.String("state"))
			if err != nil {
				return err
			}
			if c.Int("limit") < 0 {
				return usageErrorf("--limit %d: want 0 (all) or more", c.Int("limit"))
			}
			q := store.Query{States: states}
			if f := c.String("function"); f != "" {
				q.Tags = map[string]string{host.TagFunction: f}
			}
			r, err := a.openReader()
			if err != nil {
				return err
			}
			defer closeReader(r, &err)
			ps, truncated, err := searchAll(c.Context, r, q)
			if err != nil {
				return err
			}
			sort.Slice(ps, func(i, j int) bool {
				if ps[i].CreatedOn != ps[j].CreatedOn {
					return ps[i].CreatedOn > ps[j].CreatedOn
				}
				return compareIDs(ps[i].ID, ps[j].ID) > 0
			})
			total := len(ps)
			if n := c.Int("limit"); n > 0 && len(ps) > n {
				ps = ps[:n]
			}
			if truncated {
				fmt.Fprintf(a.stderr, "reprise: read only the first %d promises by id; narrow the list with --state or --function\n", lsScanMax)
			}
			if len(ps) < total {
				fmt.Fprintf(a.stderr, "showing the newest %d of %d; --limit 0 shows all\n", len(ps), total)
			}
			if c.Bool("json") {
				vs := make([]promiseView, 0, len(ps))
				for _, p := range ps {
					vs = append(vs, viewPromise(p))
				}
				return a.writeJSON(vs)
			}
			if len(ps) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tWHAT\tCREATED\tSETTLED")
			for _, p := range ps {
				settled := "-"
				if p.CompletedOn != 0 {
					settled = localTime(p.CompletedOn)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.State, what(p), localTime(p.CreatedOn), settled)
			}
			return tw.Flush()
		},
	}
}

// searcher lists promises a page at a time: a reader, or a store.
type searcher interface {
	Search(ctx context.Context, q store.Query) ([]store.Promise, string, error)
}

// storeSearcher is a store as a searcher.
type storeSearcher struct{ store.Store }

func (s storeSearcher) Search(ctx context.Context, q store.Query) ([]store.Promise, string, error) {
	return s.SearchPromises(ctx, q)
}

// searchAll reads every promise matching q, page by page, up to lsScanMax.
func searchAll(ctx context.Context, st searcher, q store.Query) (ps []store.Promise, truncated bool, err error) {
	q.Limit = 100
	for {
		page, cursor, err := st.Search(ctx, q)
		if err != nil {
			return nil, false, fmt.Errorf("list promises: %w", err)
		}
		ps = append(ps, page...)
		if cursor == "" {
			return ps, false, nil
		}
		if len(ps) >= lsScanMax {
			return ps, true, nil
		}
		q.Cursor = cursor
	}
}

// compareIDs orders ids created in the same millisecond: segment by
// segment, numbers as numbers, so a.10 comes after a.9 and a child after
// its parent.
func compareIDs(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.ParseUint(as[i], 10, 64)
		y, erry := strconv.ParseUint(bs[i], 10, 64)
		if errx == nil && erry == nil {
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		} else if c := strings.Compare(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

// parseStateFilter reads --state; "rejected" means all three rejected states.
func parseStateFilter(s string) ([]store.State, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "_")) {
	case "":
		return nil, nil
	case "pending":
		return []store.State{store.Pending}, nil
	case "resolved":
		return []store.State{store.Resolved}, nil
	case "rejected":
		return []store.State{store.Rejected, store.RejectedCanceled, store.RejectedTimedout}, nil
	case "canceled", "cancelled", "rejected_canceled":
		return []store.State{store.RejectedCanceled}, nil
	case "timedout", "timed_out", "rejected_timedout":
		return []store.State{store.RejectedTimedout}, nil
	}
	return nil, usageErrorf("--state %q: want pending, resolved, rejected, canceled or timedout", s)
}
