//go:build linux

// Soak is the benchmark of issue "cost stays flat as history grows": it
// builds a history of executions and timers in one store, then measures the
// same workloads on that store and on fresh ones, alternated, and the
// process's memory after each round. It reads /proc/self/status, so it runs
// on Linux. BENCHMARKS.md ("History and memory (soak)") has the commands
// and figures.
//
// Two modes:
//
//   - history (the default): -executions quick executions and -timers
//     sleeping ones through one store (kept in -dir/used, reused by a later
//     run that finds it built), then -rounds rounds, each with a host on
//     the used store and one on a new store side by side: W1 (InvokeWait
//     of an empty call, one at a time, p50) and a promise get (p50)
//     alternate between the two sample by sample, then a round of
//     -sleepers executions sleeping -sleep each runs on one, then on the
//     other (which first alternates by round).
//   - purge: retention at a period of zero over the used store (which it
//     consumes: copy it first), with the disk use before, after the purge
//     and after reclaiming the space, and the latency of gets meanwhile.
//   - memory: one host on one fresh store, -rounds rounds of -sleepers
//     sleeping executions, then a burst of -burst quick ones, then idle;
//     the memory after each, and a heap profile at the end (-heapprofile).
//
// The guest is the C conformance guest (conformance/c/guest.wasm), its
// scenarios "hello" and "sleep".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// options are the flags.
type options struct {
	mode        string
	dir         string
	wasm        string
	executions  int
	timers      int
	par         int
	rounds      int
	samples     int
	sleepers    int
	sleep       time.Duration
	burst       int
	heapProfile string
	peakProfile string
	cpuProfile  string
}

func run() error {
	var o options
	flag.StringVar(&o.mode, "mode", "history", "history (used store against fresh ones), memory (memory after bursts in one host) or purge (retention over the used store)")
	flag.StringVar(&o.dir, "dir", "", "working directory for the stores (default: a new temporary one, removed at the end); the used store is DIR/used and is kept")
	flag.StringVar(&o.wasm, "wasm", "conformance/c/guest.wasm", "the C conformance guest")
	flag.IntVar(&o.executions, "executions", 1_000_000, "history: quick executions to build the used store with")
	flag.IntVar(&o.timers, "timers", 100_000, "history: sleeping executions (a timer each) to build the used store with")
	flag.IntVar(&o.par, "par", 64, "executions started at once while building history and bursts")
	flag.IntVar(&o.rounds, "rounds", 3, "history: used/fresh alternations; memory: rounds of sleepers")
	flag.IntVar(&o.samples, "samples", 2000, "invocations and gets measured per W1 and get figure")
	flag.IntVar(&o.sleepers, "sleepers", 10_000, "executions of one round of sleepers")
	flag.DurationVar(&o.sleep, "sleep", time.Second, "how long each sleeper of a measured round sleeps")
	flag.IntVar(&o.burst, "burst", 100_000, "memory: quick executions of the burst after the rounds")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "memory: write a heap profile here once the host is idle after the burst")
	flag.StringVar(&o.peakProfile, "peakprofile", "", "memory: write a heap profile here once the first round's sleepers are all started")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "history: profile the CPU during each store's round of sleepers into PATH.used and PATH.fresh (the last round's)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag (see -help)", flag.Args())
	}
	if o.par < 1 || o.rounds < 1 || o.samples < 1 || o.sleepers < 1 {
		return errors.New("-par, -rounds, -samples and -sleepers must be at least 1")
	}
	wasm, err := os.ReadFile(o.wasm)
	if err != nil {
		return fmt.Errorf("read the guest (run from the repository's root, or pass -wasm): %w", err)
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "reprise-soak-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch o.mode {
	case "history":
		return history(ctx, o, wasm, log)
	case "memory":
		return memory(ctx, o, wasm, log)
	case "purge":
		return purge(ctx, o, log)
	default:
		return fmt.Errorf("-mode %q: want history, memory or purge", o.mode)
	}
}

// history builds the used store (unless dir/used holds one already), then
// alternates measurements on it and on fresh stores.
func history(ctx context.Context, o options, wasm []byte, log *slog.Logger) error {
	used := filepath.Join(o.dir, "used")
	if _, err := os.Stat(used + ".built"); err != nil {
		if err := buildHistory(ctx, o, used, wasm, log); err != nil {
			return fmt.Errorf("build the history: %w", err)
		}
	} else {
		fmt.Printf("reusing the history in %s\n", used)
	}
	fmt.Printf("store after the build-up: %s\n", diskUse(used))
	fmt.Printf("%-6s %-5s %10s %10s %12s %10s   %s\n", "round", "store", "W1 p50", "get p50", "get old p50", "sleepers", "commits during its sleepers, mean sync; memory after them (both stores open)")
	for i := 1; i <= o.rounds; i++ {
		fresh := filepath.Join(o.dir, fmt.Sprintf("fresh-%d", i))
		m, err := measureRound(ctx, o, used, fresh, i%2 == 1, wasm, log)
		os.RemoveAll(fresh)
		if err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
		for j, which := range []string{"used", "fresh"} {
			old := "-"
			if m[j].getOld > 0 {
				old = m[j].getOld.String()
			}
			fmt.Printf("%-6d %-5s %10s %10s %12s %10s   %d syncs of %s; %s\n", i, which, m[j].w1, m[j].get, old, m[j].sleepers.Round(10*time.Millisecond), m[j].syncs, m[j].syncMean.Round(time.Microsecond), m[j].mem)
		}
		fmt.Printf("%-6d %-5s %9.2fx %9.2fx %12s %9.2fx\n", i, "ratio", ratio(m[0].w1, m[1].w1), ratio(m[0].get, m[1].get), "", ratio(m[0].sleepers, m[1].sleepers))
	}
	fmt.Printf("store after the rounds: %s\n", diskUse(used))
	fmt.Println("peak RSS:", mib(readMemory().peakRSS))
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// memory runs rounds of sleepers and a burst in one host and prints the
// memory after each, and once idle.
func memory(ctx context.Context, o options, wasm []byte, log *slog.Logger) error {
	s, err := openSoak(ctx, filepath.Join(o.dir, "memory"), wasm, log)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	// The baseline: deployed and warm, one of each workload done.
	if _, err := s.quick(ctx, nil, o.par, 1); err != nil {
		return err
	}
	if _, err := s.sleepers(ctx, "warm", 1, time.Millisecond, o.par, nil); err != nil {
		return err
	}
	report := func(what string) {
		st := s.h.Stats()
		fmt.Printf("%-26s %s  active %d parked %d\n", what, readMemory(), st.Active, st.Parked)
	}
	if err := s.h.WaitIdle(ctx); err != nil {
		return err
	}
	report("baseline")
	for i := 1; i <= o.rounds; i++ {
		var started func()
		if i == 1 && o.peakProfile != "" {
			started = func() {
				if err := writeHeapProfile(o.peakProfile); err != nil {
					fmt.Fprintln(os.Stderr, "soak: peak profile:", err)
				}
				report("round 1, all started")
			}
		}
		d, err := s.sleepers(ctx, fmt.Sprintf("r%d", i), o.sleepers, o.sleep, o.par, started)
		if err != nil {
			return err
		}
		if err := s.h.WaitIdle(ctx); err != nil {
			return err
		}
		report(fmt.Sprintf("sleepers round %d (%s)", i, d.Round(10*time.Millisecond)))
	}
	d, err := s.quick(ctx, nil, o.par, o.burst)
	if err != nil {
		return err
	}
	if err := s.h.WaitIdle(ctx); err != nil {
		return err
	}
	report(fmt.Sprintf("burst of %d (%s)", o.burst, d.Round(10*time.Millisecond)))
	// Idle: what the host's loops give back on their own, given time.
	time.Sleep(idleWait)
	report("idle")
	if o.heapProfile != "" {
		if err := writeHeapProfile(o.heapProfile); err != nil {
			return err
		}
	}
	fmt.Println("peak RSS:", mib(readMemory().peakRSS))
	return nil
}

// idleWait is how long memory mode leaves the host idle before its last
// figure: longer than the host's idle trims take to run.
const idleWait = 15 * time.Second
