package host_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

// Benchmarks of the durable core. BENCHMARKS.md has the command and figures.

func benchHost(b *testing.B, configure ...func(*host.Config)) *testHost {
	b.Helper()
	return newHost(b, append([]func(*host.Config){func(c *host.Config) { c.MaxSteps = 1 << 30 }}, configure...)...)
}

// runCalls runs one execution of a raw guest making n calls and reports ns per call.
func runCalls(b *testing.B, name string, typ byte) {
	h := benchHost(b)
	ctx := context.Background()
	if _, err := h.Deploy(ctx, "loop", rawLoop(name, typ, uint32(max(b.N, 1))), ""); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	p := h.run("loop", nil, host.InvokeOptions{})
	b.StopTimer()
	if p.State != store.Resolved {
		b.Fatalf("%s: %s", p.State, p.Value.Data)
	}
}

// BenchmarkHostCallPlain is a host call that is not journaled (input length).
func BenchmarkHostCallPlain(b *testing.B) { runCalls(b, "input", typeI32I32toI32) }

// BenchmarkJournaledNow is a journaled local step: now(), written with the
// next durable write (here: every 1,024 steps and the result).
func BenchmarkJournaledNow(b *testing.B) { runCalls(b, "now", typeToI64) }

// invokeLatency measures invoke→durable result, one at a time, with the
// module warm (deployed, instances ready): Invoke, then Await.
func invokeLatency(b *testing.B, wasm []byte) {
	h := benchHost(b)
	ctx := context.Background()
	if _, err := h.Deploy(ctx, "f", wasm, ""); err != nil {
		b.Fatal(err)
	}
	h.run("f", []byte("1"), host.InvokeOptions{}) // warm
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		id, err := h.Invoke(ctx, "f", []byte("1"), host.InvokeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if p, err := h.Await(ctx, id); err != nil || p.State != store.Resolved {
			b.Fatalf("%v %v", p.State, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkInvokeRawGuest(b *testing.B) { invokeLatency(b, rawEcho()) }
func BenchmarkInvokeGoGuest(b *testing.B)  { invokeLatency(b, guest(b, "noop")) }

// invokeWaitLatency is invokeLatency through InvokeWait: a guest without
// durable calls costs one commit (start and result together).
func invokeWaitLatency(b *testing.B, wasm []byte) {
	h := benchHost(b)
	ctx := context.Background()
	if _, err := h.Deploy(ctx, "f", wasm, ""); err != nil {
		b.Fatal(err)
	}
	h.run("f", []byte("1"), host.InvokeOptions{}) // warm
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		p, err := h.InvokeWait(ctx, "f", []byte("1"), host.InvokeOptions{}, time.Minute)
		if err != nil || p.State != store.Resolved {
			b.Fatalf("%v %v", p.State, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func BenchmarkInvokeWaitRawGuest(b *testing.B) { invokeWaitLatency(b, rawEcho()) }
func BenchmarkInvokeWaitGoGuest(b *testing.B)  { invokeWaitLatency(b, guest(b, "noop")) }

// BenchmarkInvokeConcurrent is throughput with 32 callers at once: their
// writes share fsyncs.
func BenchmarkInvokeConcurrent(b *testing.B) { invokeConcurrent(b, false) }

// BenchmarkInvokeWaitConcurrent is the same through InvokeWait.
func BenchmarkInvokeWaitConcurrent(b *testing.B) { invokeConcurrent(b, true) }

func invokeConcurrent(b *testing.B, wait bool) {
	h := benchHost(b)
	ctx := context.Background()
	if _, err := h.Deploy(ctx, "f", rawEcho(), ""); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(16) // × GOMAXPROCS(2) = 32 callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			var err error
			if wait {
				_, err = h.InvokeWait(ctx, "f", []byte("1"), host.InvokeOptions{}, time.Minute)
			} else {
				var id string
				if id, err = h.Invoke(ctx, "f", []byte("1"), host.InvokeOptions{}); err == nil {
					_, err = h.Await(ctx, id)
				}
			}
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(start))
			mu.Unlock()
		}
	})
	b.StopTimer()
	reportPercentiles(b, lat)
}

// fanout runs one parent invoking 1,000 children and awaiting all.
func fanout(b *testing.B, child string, wasm []byte) {
	h := benchHost(b)
	ctx := context.Background()
	h.deploy("fanout", "fanout")
	if _, err := h.Deploy(ctx, child, wasm, ""); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		p := h.run("fanout", map[string]any{"n": 1000, "child": child}, host.InvokeOptions{})
		if p.State != store.Resolved {
			b.Fatalf("%s %s", p.State, p.Value.Data)
		}
	}
}

func BenchmarkFanout1000RawChildren(b *testing.B) { fanout(b, "rawecho", rawEcho()) }
func BenchmarkFanout1000GoChildren(b *testing.B)  { fanout(b, "square", guest(b, "square")) }

// BenchmarkReplay measures a cold resume: an execution makes n journaled
// steps, then waits for an external promise with parking off, so its instance
// is dropped. The timer runs from settling the promise to the durable result:
// a new instance, the replay of n entries, the result's commit. Subtracting
// the same with n = 0 leaves the replay, reported per entry.
func BenchmarkReplay(b *testing.B) {
	h := benchHost(b, noParking)
	h.deploy("steps", "steps")
	ctx := context.Background()
	resume := func(n, i int) time.Duration {
		id := fmt.Sprintf("replay-%d-%d", n, i)
		if _, err := h.Invoke(ctx, "steps", jsonBytes(b, map[string]any{"steps": n, "wait": true}), host.InvokeOptions{ID: id}); err != nil {
			b.Fatal(err)
		}
		waitSuspended(b, h, id)
		start := time.Now()
		if _, err := h.Settle(ctx, store.Settle{ID: fmt.Sprintf("%s.%d", id, n+1), State: store.Resolved}); err != nil {
			b.Fatal(err)
		}
		if p := h.await(id); p.State != store.Resolved {
			b.Fatalf("%s %s", p.State, p.Value.Data)
		}
		return time.Since(start)
	}
	resume(0, -1) // warm
	const n = 10_000
	var empty, full time.Duration
	b.ResetTimer()
	for i := range b.N {
		empty += resume(0, i)
		full += resume(n, i)
	}
	b.ReportMetric(float64(full.Microseconds())/float64(b.N), "resume-10k-µs")
	b.ReportMetric(float64(empty.Microseconds())/float64(b.N), "resume-0-µs")
	b.ReportMetric(float64((full-empty).Nanoseconds())/float64(b.N)/n, "replay-ns/entry")
}

// waitSuspended waits until execution id is durably suspended: its journal is
// written and no goroutine of the host drives it.
func waitSuspended(b *testing.B, h *testHost, id string) {
	b.Helper()
	for range 10_000 {
		if !h.Active(id) {
			if _, err := h.Get(context.Background(), id); err == nil {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("%s never suspended", id)
}

// BenchmarkMemoryPerSuspended reports memory held per execution waiting on an
// external promise: parked (instance kept) and cold (nothing but the store).
func BenchmarkMemoryPerSuspended(b *testing.B) {
	const n = 40
	measure := func(configure ...func(*host.Config)) float64 {
		h := benchHost(b, append(configure, func(c *host.Config) { c.ReadyInstances = -1 })...)
		h.deploy("approve", "approve")
		h.run("approve", map[string]int{"timeout_ms": 1}, host.InvokeOptions{}) // compile, warm
		before := heapInuse()
		for i := range n {
			id := "m" + strconv.Itoa(i)
			if _, err := h.Invoke(context.Background(), "approve", []byte(`{}`), host.InvokeOptions{ID: id}); err != nil {
				b.Fatal(err)
			}
			waitPromise(b, h, id+".1")
		}
		time.Sleep(100 * time.Millisecond) // let every one reach its await
		after := heapInuse()
		for i := range n {
			h.Cancel(context.Background(), "m"+strconv.Itoa(i))
		}
		h.close()
		return float64(after-before) / n
	}
	for range b.N {
		parked := measure()
		cold := measure(noParking)
		b.ReportMetric(parked/1024, "KiB/parked")
		b.ReportMetric(cold/1024, "KiB/cold")
	}
}

func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// fibGuest computes fib(n) by plain recursion: about 2·fib(n) calls, every
// one of them in a cycle, so every one counted against the call stack
// limit. It returns nothing: the benchmark measures the calls.
func fibGuest(n int32) []byte {
	m := wt.Module{Memory: 1}
	m.Func("run", nil, wt.I32Const(n), wt.Call(1), []byte{0x1a}) // drop
	m.Funcs = append(m.Funcs, wt.Func{Params: []byte{wt.I32}, Results: []byte{wt.I32}, Code: wt.Cat(
		[]byte{0x20, 0}, wt.I32Const(2), []byte{0x49}, // n < 2
		[]byte{0x04, 0x7f, 0x20, 0, 0x05}, // if (result i32) n else
		[]byte{0x20, 0}, wt.I32Const(1), []byte{0x6b}, wt.Call(1),
		[]byte{0x20, 0}, wt.I32Const(2), []byte{0x6b}, wt.Call(1),
		[]byte{0x6a, 0x0b}, // add, end
	)})
	return m.Bytes()
}

// BenchmarkRecursion is the cost of counting calls against the call stack
// limit: fib(25), about 243,000 calls, with the count and without.
func BenchmarkRecursion(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int
	}{{"counted", 0}, {"uncounted", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			h := benchHost(b, func(c *host.Config) { c.MaxCallStack = bc.limit })
			ctx := context.Background()
			if _, err := h.Deploy(ctx, "fib", fibGuest(25), ""); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if p := h.run("fib", nil, host.InvokeOptions{}); p.State != store.Resolved {
					b.Fatalf("%s %s", p.State, p.Value.Data)
				}
			}
		})
	}
}
