package command

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// progressEvery is how often a waiting command looks at the execution.
const progressEvery = 200 * time.Millisecond

// showProgress shows what execution id is doing while the caller waits for
// it, until the returned stop is called: a status line on a terminal (only
// when stdout is one too, so a script capturing stdout sees nothing extra),
// otherwise changes logged at debug level.
func (a *app) showProgress(ctx context.Context, r reader, id string) (stop func()) {
	tty := a.outTTY && a.stderr.tty
	if !tty && !a.log.Enabled(ctx, slog.LevelDebug) {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pr := &prober{r: r, settled: map[string]bool{}}
		start := time.Now()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		last := ""
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st, err := pr.probe(ctx, id)
			if err != nil {
				continue // not started yet, or the command is ending
			}
			line := st.String()
			if tty {
				a.stderr.setStatus(fmt.Sprintf("%s · %s", time.Since(start).Round(time.Second), line))
			} else if line != last {
				a.log.Debug("progress", "execution", id, "status", line)
			}
			last = line
		}
	}()
	return func() {
		cancel()
		<-done
		a.stderr.setStatus("")
	}
}

// status is what an execution is doing, as its journal and children show.
type status struct {
	steps    int    // journaled host calls of the current attempt
	children int    // promises it made (child executions, sleeps, promises, http)
	pending  int    // of which not settled yet
	waiting  string // the first pending child and what it is, "" for none
}

func (s status) String() string {
	parts := []string{fmt.Sprintf("steps %d", s.steps)}
	if s.children > 0 {
		if s.pending > 0 {
			parts = append(parts, fmt.Sprintf("children %d pending", s.pending))
		} else {
			parts = append(parts, fmt.Sprintf("children %d settled", s.children))
		}
	}
	if s.waiting != "" {
		parts = append(parts, "waiting for "+s.waiting)
	} else {
		parts = append(parts, "running")
	}
	return strings.Join(parts, " · ")
}

// prober reads an execution's status, remembering which children settled
// (a settled promise never changes) so each poll reads only pending ones.
type prober struct {
	r       reader
	settled map[string]bool
}

func (p *prober) probe(ctx context.Context, id string) (status, error) {
	j, err := p.r.Journal(ctx, id, 0)
	if err != nil {
		return status{}, err
	}
	st := status{steps: len(j)}
	for _, e := range j {
		if e.Child == "" {
			continue
		}
		st.children++
		if p.settled[e.Child] {
			continue
		}
		c, err := p.r.Promise(ctx, e.Child)
		if err != nil {
			return st, err
		}
		if c.State.Settled() {
			p.settled[e.Child] = true
			continue
		}
		st.pending++
		if st.waiting == "" {
			st.waiting = fmt.Sprintf("%s (%s)", c.ID, describeWait(c))
		}
	}
	return st, nil
}

// describeWait says what a pending promise is waiting on.
func describeWait(p store.Promise) string {
	if f := p.Tags[host.TagFunction]; f != "" {
		return "execution of " + f
	}
	switch p.Tags[host.TagKind] {
	case "sleep":
		return "sleep until " + time.UnixMilli(p.Timeout).Format("15:04:05")
	case "promise":
		return "settle it with `reprise resolve " + p.ID + "`"
	case "http":
		return "HTTP response"
	}
	return "promise"
}
