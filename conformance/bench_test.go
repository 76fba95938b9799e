package conformance_test

import (
	"context"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// benchSys is a sandbox for instantiating outside a host: a clock that moves
// (a Go runtime needs it to) and zero randomness.
type benchSys struct{ t int64 }

func (s *benchSys) Walltime() (int64, int32)   { s.t += 1000; return s.t / 1e9, int32(s.t % 1e9) }
func (s *benchSys) Nanotime() int64            { s.t += 1000; return s.t }
func (s *benchSys) Nanosleep(ns int64)         { s.t += ns }
func (s *benchSys) Read(p []byte) (int, error) { clear(p); return len(p), nil }
func (s *benchSys) Stdout() io.Writer          { return io.Discard }
func (s *benchSys) Stderr() io.Writer          { return io.Discard }

// BenchmarkGuests measures, per engine and language: module size, compile
// (cold and from the on-disk cache), instantiate, invoke→durable result of a
// trivial call (square) and a journaled step (now, amortized over 10,000).
func BenchmarkGuests(b *testing.B) {
	for _, eng := range engines() {
		for _, lang := range languages(b) {
			b.Run(eng.name+"/"+lang.name, func(b *testing.B) { benchGuest(b, eng, lang) })
		}
	}
}

func benchGuest(b *testing.B, eng engineChoice, lang language) {
	b.Helper()
	ctx := context.Background()
	wasm, err := os.ReadFile(lang.wasm)
	if err != nil {
		b.Fatal(err)
	}
	h := newHost(b, eng, lang) // imports as a real host offers them
	b.ReportMetric(float64(len(wasm))/1024, "module-KiB")

	cache := b.TempDir()
	newEngine := func() engine.Engine {
		e, err := eng.new(ctx, engine.Config{CacheDir: cache, MemoryLimitPages: 4096, Imports: wasmtest.ABIStubs()})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	e1 := newEngine()
	start := time.Now()
	m, err := e1.Compile(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "compile-ms")
	const n = 20
	start = time.Now()
	for range n {
		in, err := m.Instantiate(ctx, &benchSys{})
		if err != nil {
			b.Fatal(err)
		}
		in.Close(ctx)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/n, "instantiate-µs")
	e1.Close(ctx)
	e2 := newEngine()
	start = time.Now()
	if _, err := e2.Compile(ctx, wasm); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "cached-compile-ms")
	e2.Close(ctx)

	run := func(in []byte) time.Duration {
		start := time.Now()
		id, err := h.Invoke(ctx, guestName, in, host.InvokeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		p, err := h.Await(ctx, id)
		if err != nil || p.State != store.Resolved {
			b.Fatalf("%v %s %s", err, p.State, p.Value.Data)
		}
		return time.Since(start)
	}
	run(jsonIn(map[string]any{"scenario": "square", "n": 3})) // warm
	lat := make([]time.Duration, 0, 200)
	for range 200 {
		lat = append(lat, run(jsonIn(map[string]any{"scenario": "square", "n": 3})))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "invoke-p50-µs")
	const steps = 10_000
	d := run(jsonIn(map[string]any{"scenario": "steps", "n": steps}))
	b.ReportMetric(float64(d.Nanoseconds())/steps, "step-ns")
	for range b.N { // the figures above are the benchmark; b.N is not used
	}
}
