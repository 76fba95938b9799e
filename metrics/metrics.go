package metrics

import (
	"sync/atomic"
	"time"
)

// Histogram is a snapshot of durations counted in buckets.
type Histogram struct {
	// Bounds are the buckets' upper bounds (inclusive), ascending. Counts has
	// one more element than Bounds: Counts[i] is the observations in
	// (Bounds[i-1], Bounds[i]], the last those above every bound. Counts are
	// per bucket, not cumulative.
	Bounds []time.Duration
	Counts []uint64
	Count  uint64        // all observations
	Sum    time.Duration // of all observations
}

// LatencyBounds are the bucket bounds of Latencies: from the cost of an
// fsync to a step that nearly reaches the default step time limit.
var LatencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Latencies counts durations in the buckets of LatencyBounds. Observe is
// lock-free and allocation-free, so it can sit on hot paths; Snapshot may run
// concurrently with it (see the package documentation). The zero value is
// ready.
type Latencies struct {
	counts [len(LatencyBounds) + 1]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Int64
}

// Observe counts d.
func (l *Latencies) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	l.counts[i].Add(1)
	l.count.Add(1)
	l.sum.Add(int64(d))
}

// Snapshot returns the counts so far.
func (l *Latencies) Snapshot() Histogram {
	h := Histogram{Bounds: append([]time.Duration(nil), LatencyBounds[:]...), Counts: make([]uint64, len(l.counts))}
	for i := range l.counts {
		h.Counts[i] = l.counts[i].Load()
	}
	h.Count, h.Sum = l.count.Load(), time.Duration(l.sum.Load())
	return h
}
