package main

// The harness of the containment tests: a real `reprise serve` with two
// tenants, an attacker and a quiet one, the server's memory read from /proc,
// and a quiet tenant that keeps invoking while the attack runs. Each area of
// attacks has a file of its own (containment_*_test.go); each test states the
// bound it holds the server to, so a regression shows as a named failure and
// not as an OOM of the test machine.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/client"
)

// arena is a server with an attacking tenant and a quiet one.
type arena struct {
	server            // as the attacker
	quiet      server // as the quiet tenant
	attackerID string // the attacker's tenant name
}

// startArena creates the tenants "attacker" (with attackerLimits, flags of
// `reprise tenant create`) and "quiet" (default limits), deploys hello for
// the quiet one, and starts `reprise serve` with serveFlags.
func startArena(t *testing.T, attackerLimits []string, serveFlags ...string) arena {
	t.Helper()
	return preparedArena(t, nil, attackerLimits, serveFlags...)
}

// preparedArena is startArena on a data directory prepared by prepare
// (called after the tenants exist, before the server starts; nil for none).
func preparedArena(t *testing.T, prepare func(data string), attackerLimits []string, serveFlags ...string) arena {
	t.Helper()
	data := t.TempDir()
	atok := strings.TrimSpace(ok(t, data, append([]string{"tenant", "create", "attacker"}, attackerLimits...)...))
	qtok := strings.TrimSpace(ok(t, data, "tenant", "create", "quiet"))
	if prepare != nil {
		prepare(data)
	}
	s := startServe(t, data, atok, serveFlags...)
	q := s
	q.token = qtok
	q.ok(t, "deploy", "hello", wasm["hello"])
	s.guardMemory(t, hardMemoryCap)
	return arena{server: s, quiet: q, attackerID: "attacker"}
}

// hardMemoryCap is the most a containment test lets the server hold: the
// issue's attacks were made against a server in a 3 GiB cgroup, and a server
// past it here is killed (and the test fails) before it can take the test
// machine down.
const hardMemoryCap = 3 << 30

// guardMemory kills the server, failing the test, if its resident set
// passes limit bytes.
func (s server) guardMemory(t *testing.T, limit int64) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", s.proc.Process.Pid))
			if err != nil {
				return // the process ended
			}
			var size, resident int64
			fmt.Sscan(string(b), &size, &resident)
			if rss := resident * int64(os.Getpagesize()); rss > limit {
				s.proc.Process.Kill()
				t.Errorf("the server's RSS reached %d MiB, over the hard cap of %d MiB: killed it", rss>>20, limit>>20)
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// client returns an API client speaking as s's tenant.
func (s server) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(s.url, client.Options{Token: s.token, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// memory returns the server process's resident set now and at its peak, in
// bytes (VmRSS and VmHWM of /proc/PID/status).
func (s server) memory(t *testing.T) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.proc.Process.Pid))
	if err != nil {
		t.Fatalf("read the server's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("parse %s of %q: %v", k, line, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}

// requirePeakUnder fails the test if the server's peak resident set passed
// limit bytes.
func (s server) requirePeakUnder(t *testing.T, limit int64, what string) {
	t.Helper()
	if _, peak := s.memory(t); peak > limit {
		t.Errorf("%s: the server's peak RSS was %d MiB, over the %d MiB this test allows", what, peak>>20, limit>>20)
	} else {
		t.Logf("%s: peak RSS %d MiB (bound %d MiB)", what, peak>>20, limit>>20)
	}
}

// quietLoad is a quiet tenant invoking hello, one call after another, while
// an attack runs.
type quietLoad struct {
	stop func()
	done chan struct{}

	mu        sync.Mutex // guards the fields below
	latencies []time.Duration
	failures  []string
}

// keepInvoking starts invoking hello as s's tenant (waiting for each
// result) until the returned load is stopped.
func (s server) keepInvoking(t *testing.T) *quietLoad {
	t.Helper()
	c := s.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := &quietLoad{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; ctx.Err() == nil; i++ {
			t0 := time.Now()
			inv, err := c.Invoke(ctx, "hello", []byte(`{"name":"quiet"}`), client.InvokeOptions{Wait: 30 * time.Second})
			if ctx.Err() != nil {
				return
			}
			d := time.Since(t0)
			l.mu.Lock()
			switch {
			case err != nil:
				l.failures = append(l.failures, fmt.Sprintf("call %d: %v", i, err))
			case inv.State != "RESOLVED" || !strings.Contains(string(inv.Value), "quiet"):
				l.failures = append(l.failures, fmt.Sprintf("call %d: %s %s", i, inv.State, inv.Value))
			default:
				l.latencies = append(l.latencies, d)
			}
			l.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { l.finish() })
	return l
}

// finish stops the load and waits for its last call.
func (l *quietLoad) finish() {
	l.stop()
	<-l.done
}

// requireServed stops the load and fails the test unless every call of the
// quiet tenant succeeded and there were some; it returns their p50 and p99.
func (l *quietLoad) requireServed(t *testing.T) (p50, p99 time.Duration) {
	t.Helper()
	// A load stopped right after it started may have its first call (a
	// cold start) still in flight: let one call end first.
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		n := len(l.latencies) + len(l.failures)
		l.mu.Unlock()
		if n > 0 {
			break
		}
	}
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.failures {
		t.Errorf("the quiet tenant was not served: %s", f)
	}
	if len(l.latencies) == 0 {
		t.Fatalf("the quiet tenant made no successful call during the attack")
	}
	d := slices.Clone(l.latencies)
	slices.Sort(d)
	p50, p99 = d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
	t.Logf("quiet tenant: %d calls, p50 %v, p99 %v", len(d), p50, p99)
	return p50, p99
}

// The harness itself: with no attack, the quiet tenant is served and the
// server stays small.
func TestArenaServesTheQuietTenantWhenNobodyAttacks(t *testing.T) {
	t.Parallel()
	a := startArena(t, nil)
	load := a.quiet.keepInvoking(t)
	time.Sleep(500 * time.Millisecond)
	load.requireServed(t)
	a.requirePeakUnder(t, 512<<20, "no attack")
}
