package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/client"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
)

// soakDuration is how long the soak attacks: REPRISE_SOAK (a duration) or
// 10s.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("REPRISE_SOAK")
	if s == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("REPRISE_SOAK=%q: %v", s, err)
	}
	return d
}

// soakWait is how long an attack waits for an execution it started: what
// has not settled by then goes on in the server.
const soakWait = 5 * time.Second

// soakAttack is one attack of the soak: set up once, then run again and
// again until the soak ends; what it records in n (its own attempts) and
// what it sees is logged.
type soakAttack struct {
	name  string
	setup func(ctx context.Context, c *client.Client) error
	once  func(ctx context.Context, c *client.Client) (refused string, err error)
	par   int // goroutines running once
}

// The soak: several of the containment issue's attacks at once, by one
// tenant, for REPRISE_SOAK (default 10s), while a quiet tenant invokes
// hello. It holds the server to a peak RSS of 1.75 GiB (a server memory
// budget of 1 GiB, the Go runtime's garbage up to its soft limit of 1.25
// times that, and the stores' memtables and mapped files beside it), requires every quiet call to succeed, and logs the quiet
// tenant's p50 and p99 and the server's peak, the figures BENCHMARKS.md
// records:
//
//	REPRISE_SOAK=60s go test ./cli/reprise -run TestSoakOfSeveralAttacksAtOnce -v
func TestSoakOfSeveralAttacksAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for seconds under load; not with -short")
	}
	t.Parallel()
	d := soakDuration(t)
	// A server budget of 1 GiB (the Go runtime's soft limit follows it),
	// of which the attacker may take 768 MiB: the quiet tenant keeps room
	// to run beside it.
	a := startArena(t, []string{"--rate", "100000", "--burst", "100000", "--memory-budget", "768MiB"}, "--memory-budget", "1GiB")
	recurse := wt.Module{Memory: 1}
	recurse.Func(abi.DefaultEntry, []byte{wt.I64, wt.I64, wt.I64, wt.I64}, wt.Call(0))
	longID := strings.Repeat("a", 200)
	big := make([]byte, 700<<10)
	var seq atomic.Int64
	deploy := func(ctx context.Context, c *client.Client, name string, wasm []byte) error {
		_, err := c.Deploy(ctx, name, wasm, "")
		return err
	}
	invoke := func(ctx context.Context, c *client.Client, name string, wait time.Duration) (string, error) {
		inv, err := c.Invoke(ctx, name, nil, client.InvokeOptions{Wait: wait})
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(inv.State, client.Rejected) {
			return string(inv.Value), nil
		}
		return "", nil
	}
	attacks := []soakAttack{
		{name: "endless recursion (finding 12)", par: 4,
			setup: func(ctx context.Context, c *client.Client) error { return deploy(ctx, c, "recurse", recurse.Bytes()) },
			once: func(ctx context.Context, c *client.Client) (string, error) {
				return invoke(ctx, c, "recurse", soakWait)
			}},
		{name: "instances that fill 128 MiB (finding 1)", par: 2,
			setup: func(ctx context.Context, c *client.Client) error {
				for i := range 12 {
					if err := deploy(ctx, c, fmt.Sprintf("fill%d", i), fillingModule(int32(i+1))); err != nil {
						return err
					}
				}
				return nil
			},
			once: func(ctx context.Context, c *client.Client) (string, error) {
				return invoke(ctx, c, fmt.Sprintf("fill%d", seq.Add(1)%12), soakWait)
			}},
		{name: "recursive fan-out bomb (finding 3)", par: 1,
			setup: func(ctx context.Context, c *client.Client) error {
				return deploy(ctx, c, "bomb", wt.Invoker("bomb", bombFanOut))
			},
			once: func(ctx context.Context, c *client.Client) (string, error) {
				return invoke(ctx, c, "bomb", soakWait)
			}},
		{name: "300 invokes of a 1 MiB argument (finding 5)", par: 1,
			setup: func(ctx context.Context, c *client.Client) error {
				if err := deploy(ctx, c, "sink", sinkGuest()); err != nil {
					return err
				}
				return deploy(ctx, c, "fanargs", fanArgsGuest("sink", 300))
			},
			once: func(ctx context.Context, c *client.Client) (string, error) {
				return invoke(ctx, c, "fanargs", soakWait)
			}},
		{name: "pathological glob (finding 11)", par: 2,
			setup: func(ctx context.Context, c *client.Client) error {
				never := time.Now().Add(24 * time.Hour).UnixMilli()
				for i := range 3000 {
					if _, _, err := c.CreatePromise(ctx, client.CreatePromise{ID: fmt.Sprintf("%s%05d", longID, i), Timeout: never}); err != nil {
						return err
					}
				}
				return nil
			},
			once: func(ctx context.Context, c *client.Client) (string, error) {
				_, _, err := c.Promises(ctx, client.Query{ID: "*" + strings.Repeat("a", 150) + "b"})
				return refusal(err)
			}},
		{name: "700 KB promises (finding 4)", par: 1,
			once: func(ctx context.Context, c *client.Client) (string, error) {
				_, _, err := c.CreatePromise(ctx, client.CreatePromise{ID: fmt.Sprintf("big%d", seq.Add(1)), Param: client.Value{Data: big},
					Timeout: time.Now().Add(time.Hour).UnixMilli()})
				return refusal(err)
			}},
		{name: "a flood of guest logs (finding 8)", par: 1,
			setup: func(ctx context.Context, c *client.Client) error {
				return deploy(ctx, c, "flood", guestLogsText(abi.LogInfo, strings.Repeat("f", 4000), 1000))
			},
			once: func(ctx context.Context, c *client.Client) (string, error) {
				return invoke(ctx, c, "flood", soakWait)
			}},
	}

	c := a.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, at := range attacks {
		if at.setup != nil {
			if err := at.setup(ctx, c); err != nil {
				t.Fatalf("set up %s: %v", at.name, err)
			}
		}
	}
	load := a.quiet.keepInvoking(t)
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, at := range attacks {
		var mu sync.Mutex // guards runs and refusals
		runs, refusals := 0, map[string]int{}
		for range at.par {
			wg.Go(func() {
				for time.Now().Before(end) {
					refused, err := at.once(ctx, c)
					mu.Lock()
					runs++
					switch {
					case err != nil:
						refusals[firstLine(err.Error())]++
					case refused != "":
						refusals[firstLine(refused)]++
					}
					mu.Unlock()
				}
			})
		}
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%s: %d runs; refused or rejected: %v", at.name, runs, refusals)
		})
	}
	wg.Wait()
	p50, p99 := load.requireServed(t)
	_, peak := a.memory(t)
	t.Logf("SOAK %v: quiet p50 %v, p99 %v; server peak RSS %d MiB", d, p50.Round(time.Millisecond), p99.Round(time.Millisecond), peak>>20)
	a.requirePeakUnder(t, 1792<<20, "the soak")
	// The server still serves the attacker too.
	if _, err := c.Functions(context.Background()); err != nil {
		t.Fatalf("after the soak, the attacker's functions: %v", err)
	}
}

// refusal is err's message when the server refused the call with a
// status, and err itself when the call failed otherwise.
func refusal(err error) (string, error) {
	if ce := (*client.Error)(nil); errors.As(err, &ce) {
		return fmt.Sprintf("%d %s", ce.Status, ce.Message), nil
	}
	return "", err
}

// firstLine is s up to its first newline, cut to 120 bytes.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
