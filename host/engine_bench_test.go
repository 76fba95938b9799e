package host_test

import (
	"context"
	"io"
	"testing"

	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/internal/wasmtest"
)

// Benchmarks of the engine under the host: compiling and instantiating a raw
// guest and a Go guest, on whichever engine this test binary runs (wazero;
// Wasmtime with -tags wasmtime).

// newTestEngine creates the engine testEngine selects.
func newTestEngine(ctx context.Context, cfg engine.Config) (engine.Engine, error) {
	return testEngine()(ctx, cfg)
}

// hostEngineConfig is the engine.Config a host gives its engine (its imports
// and its default memory cap), so the modules below link as in a host.
func hostEngineConfig() engine.Config {
	return engine.Config{Imports: wasmtest.ABIStubs(), MemoryLimitPages: 4096}
}

// benchSys is a fixed engine.Sys.
type benchSys struct{ mono int64 }

func (s *benchSys) Walltime() (int64, int32) {
	s.mono += 1000
	return 1_700_000_000, int32(s.mono % 1e9)
}
func (s *benchSys) Nanotime() int64            { s.mono += 1000; return s.mono }
func (s *benchSys) Nanosleep(ns int64)         { s.mono += ns }
func (s *benchSys) Read(p []byte) (int, error) { clear(p); return len(p), nil }
func (s *benchSys) Stdout() io.Writer          { return io.Discard }
func (s *benchSys) Stderr() io.Writer          { return io.Discard }

// compileBench compiles wasm on a fresh engine per iteration: no cache, or
// with cacheDir a warm on-disk cache (what a restart does).
func compileBench(b *testing.B, wasm []byte, cacheDir string) {
	cfg := hostEngineConfig()
	cfg.CacheDir = cacheDir
	ctx := context.Background()
	compileOnce := func() {
		eng, err := newTestEngine(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close(ctx)
		if cacheDir == "" {
			b.StartTimer()
		}
		m, err := eng.Compile(ctx, wasm)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
	}
	if cacheDir != "" {
		compileOnce() // fill the cache
	}
	b.ReportMetric(float64(len(wasm))/1024, "wasm-KiB")
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		if cacheDir != "" {
			b.StartTimer() // a restart: engine creation included
		}
		compileOnce()
	}
}

func BenchmarkCompileRawGuest(b *testing.B) { compileBench(b, rawEcho(), "") }
func BenchmarkCompileGoGuest(b *testing.B)  { compileBench(b, guest(b, "noop"), "") }

// BenchmarkCompileGoGuestCached is a restart: a new engine loads the Go guest
// from the on-disk compilation cache.
func BenchmarkCompileGoGuestCached(b *testing.B) { compileBench(b, guest(b, "noop"), b.TempDir()) }

// instantiateBench creates and closes instances of a compiled module; a Go
// guest's runtime initializes (_initialize) in each.
func instantiateBench(b *testing.B, wasm []byte) {
	cfg := hostEngineConfig()
	ctx := context.Background()
	eng, err := newTestEngine(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	m, err := eng.Compile(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	for b.Loop() {
		in, err := m.Instantiate(ctx, &benchSys{})
		if err != nil {
			b.Fatal(err)
		}
		in.Close(ctx)
	}
}

func BenchmarkInstantiateRawGuest(b *testing.B) { instantiateBench(b, rawEcho()) }
func BenchmarkInstantiateGoGuest(b *testing.B)  { instantiateBench(b, guest(b, "noop")) }
