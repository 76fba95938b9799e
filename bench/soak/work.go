//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/engine/wazeroengine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/names"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// fn is the name the guest is deployed under.
const fn = "guest"

var (
	helloInput = []byte(`{"scenario":"hello","name":"soak"}`)
	// waitLong bounds InvokeWait: long enough for any execution here.
	waitLong = 5 * time.Minute
)

// soak is one store with a host on it, the guest deployed.
type soak struct {
	db     *badgerstore.DB
	h      *host.Host
	closed bool
}

func newEngine(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
	return wazeroengine.New(ctx, cfg)
}

// openSoak opens (or creates) the store in dir and a host on it, and deploys
// the guest (again, on a used store: the same module, a new version).
func openSoak(ctx context.Context, dir string, wasm []byte, log *slog.Logger) (*soak, error) {
	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	// The history is what is measured, so retention keeps it (and the
	// backfill of a store built before retention does not run during the
	// rounds); -mode purge measures retention on its own.
	h, err := host.New(ctx, host.Config{Store: db, Logger: log, NewEngine: newEngine, Retention: host.KeepForever})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &soak{db: db, h: h}
	if _, err := h.Deploy(ctx, fn, wasm, ""); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("deploy the guest: %w", err)
	}
	return s, nil
}

// close closes the host, then the store; again, it does nothing.
func (s *soak) close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.h.Close(ctx), s.db.Close())
}

// each runs do(i) for i in [0, n) on par goroutines and returns the first
// error.
func each(n, par int, do func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// quick runs n hello executions, par at a time, and returns how long they
// took. sample, if not nil, receives every 100th id.
func (s *soak) quick(ctx context.Context, sample *[]string, par, n int) (time.Duration, error) {
	var mu sync.Mutex
	start := time.Now()
	err := each(n, par, func(i int) error {
		id := names.NewID()
		p, err := s.h.InvokeWait(ctx, fn, helloInput, host.InvokeOptions{ID: id}, waitLong)
		if err != nil {
			return err
		}
		if p.State != store.Resolved {
			return fmt.Errorf("hello %s ended %s: %s", id, p.State, p.Value.Data)
		}
		if sample != nil && i%100 == 0 {
			mu.Lock()
			*sample = append(*sample, id)
			mu.Unlock()
		}
		return nil
	})
	return time.Since(start), err
}

// sleepers starts n executions that each sleep d (par invocations at a
// time), waits for all, and returns how long from the first start to the
// last end. started, if not nil, runs once all are started.
func (s *soak) sleepers(ctx context.Context, tag string, n int, d time.Duration, par int, started func()) (time.Duration, error) {
	in := fmt.Appendf(nil, `{"scenario":"sleep","ms":%d}`, d.Milliseconds())
	ids := make([]string, n)
	start := time.Now()
	err := each(n, par, func(i int) error {
		ids[i] = fmt.Sprintf("sleep-%s-%s", tag, names.NewID())
		_, err := s.h.Invoke(ctx, fn, in, host.InvokeOptions{ID: ids[i]})
		return err
	})
	if err != nil {
		return 0, err
	}
	if started != nil {
		started()
	}
	err = each(n, par, func(i int) error {
		p, err := s.h.Await(ctx, ids[i])
		if err == nil && p.State != store.Resolved {
			err = fmt.Errorf("sleeper %s ended %s: %s", ids[i], p.State, p.Value.Data)
		}
		return err
	})
	return time.Since(start), err
}

// buildHistory builds the used store in dir: o.executions quick executions,
// then o.timers sleeping ones in rounds of o.sleepers, sleeping 10 ms each.
// It writes dir.built with a sample of the quick executions' ids.
func buildHistory(ctx context.Context, o options, dir string, wasm []byte, log *slog.Logger) error {
	os.RemoveAll(dir)
	s, err := openSoak(ctx, dir, wasm, log)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	var sample []string
	const chunk = 100_000
	start := time.Now()
	for done := 0; done < o.executions; done += chunk {
		n := min(chunk, o.executions-done)
		d, err := s.quick(ctx, &sample, o.par, n)
		if err != nil {
			return err
		}
		fmt.Printf("history: %d executions (%.0f/s, %s so far), store %s\n", done+n, float64(n)/d.Seconds(), time.Since(start).Round(time.Second), diskUse(dir))
	}
	for done := 0; done < o.timers; done += o.sleepers {
		n := min(o.sleepers, o.timers-done)
		d, err := s.sleepers(ctx, fmt.Sprintf("h%d", done), n, 10*time.Millisecond, o.par, nil)
		if err != nil {
			return err
		}
		fmt.Printf("history: %d timers (round %s), store %s\n", done+n, d.Round(10*time.Millisecond), diskUse(dir))
	}
	if err := s.close(ctx); err != nil {
		return err
	}
	return os.WriteFile(dir+".built", []byte(strings.Join(sample, "\n")), 0o644)
}

// measured is one store's figures of one round.
type measured struct {
	w1, get, getOld, sleepers time.Duration
	mem                       memoryFigures // after its sleepers, both hosts idle
	// syncs and syncMean are the store's durable commits during its
	// sleepers and their mean latency.
	syncs    uint64
	syncMean time.Duration
}

// measureRound opens the used store in used and a new one in fresh side by
// side and measures both: W1 and gets alternate between them sample by
// sample, so load from outside falls on both alike; the rounds of sleepers
// run one after the other, used first when usedFirst.
func measureRound(ctx context.Context, o options, used, fresh string, usedFirst bool, wasm []byte, log *slog.Logger) ([2]measured, error) {
	var m [2]measured // used, fresh
	b, err := os.ReadFile(used + ".built")
	if err != nil {
		return m, err
	}
	old := strings.Split(string(b), "\n") // a sample of the history's ids
	var s [2]*soak
	for i, dir := range []string{used, fresh} {
		if s[i], err = openSoak(ctx, dir, wasm, log); err != nil {
			return m, err
		}
		defer s[i].close(ctx)
		if _, err := s[i].quick(ctx, nil, 1, 100); err != nil { // warm
			return m, err
		}
	}
	var lat [2][]time.Duration
	var ids [2][]string // W1's, for get
	for range o.samples {
		for i := range s {
			id := names.NewID()
			t := time.Now()
			p, err := s[i].h.InvokeWait(ctx, fn, helloInput, host.InvokeOptions{ID: id}, waitLong)
			if err != nil || p.State != store.Resolved {
				return m, fmt.Errorf("W1: %s %v", p.State, err)
			}
			lat[i] = append(lat[i], time.Since(t))
			ids[i] = append(ids[i], id)
		}
	}
	for i := range s {
		m[i].w1 = p50(lat[i])
		lat[i] = lat[i][:0]
	}
	var oldLat []time.Duration
	for range o.samples {
		for i := range s {
			d, err := timeGet(ctx, s[i].h, ids[i])
			if err != nil {
				return m, err
			}
			lat[i] = append(lat[i], d)
		}
		d, err := timeGet(ctx, s[0].h, old)
		if err != nil {
			return m, err
		}
		oldLat = append(oldLat, d)
	}
	for i := range s {
		m[i].get = p50(lat[i])
	}
	m[0].getOld = p50(oldLat)
	order := []int{0, 1}
	if !usedFirst {
		order = []int{1, 0}
	}
	for _, i := range order {
		if o.cpuProfile != "" {
			stop, err := startCPUProfile(fmt.Sprintf("%s.%s", o.cpuProfile, []string{"used", "fresh"}[i]))
			if err != nil {
				return m, err
			}
			defer stop()
		}
		before, err := s[i].h.StoreStats(ctx)
		if err != nil {
			return m, err
		}
		if m[i].sleepers, err = s[i].sleepers(ctx, fmt.Sprintf("m%d", time.Now().UnixNano()), o.sleepers, o.sleep, o.par, nil); err != nil {
			return m, err
		}
		if err := s[i].h.WaitIdle(ctx); err != nil {
			return m, err
		}
		after, err := s[i].h.StoreStats(ctx)
		if err != nil {
			return m, err
		}
		if m[i].syncs = after.Syncs.Count - before.Syncs.Count; m[i].syncs > 0 {
			m[i].syncMean = (after.Syncs.Sum - before.Syncs.Sum) / time.Duration(m[i].syncs)
		}
		m[i].mem = readMemory()
		if o.cpuProfile != "" {
			pprof.StopCPUProfile()
		}
	}
	for i := range s {
		if err := s[i].close(ctx); err != nil {
			return m, err
		}
	}
	return m, nil
}

// timeGet reads a promise picked at random among ids and returns how long
// it took.
func timeGet(ctx context.Context, h *host.Host, ids []string) (time.Duration, error) {
	id := ids[rand.IntN(len(ids))]
	t := time.Now()
	if _, err := h.Get(ctx, id); err != nil {
		return 0, fmt.Errorf("get %s: %w", id, err)
	}
	return time.Since(t), nil
}

func p50(lat []time.Duration) time.Duration {
	slices.Sort(lat)
	return lat[len(lat)/2]
}
