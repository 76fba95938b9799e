package metrics

import (
	"sync"
	"testing"
	"time"
)

// bucket returns the index of the one bucket a snapshot of a single
// observation of d has counted, failing when not exactly one has.
func bucket(t *testing.T, d time.Duration) int {
	t.Helper()
	var l Latencies
	l.Observe(d)
	h := l.Snapshot()
	got := -1
	for i, c := range h.Counts {
		switch {
		case c == 1 && got < 0:
			got = i
		case c != 0:
			t.Fatalf("Observe(%v) counted %v", d, h.Counts)
		}
	}
	if got < 0 || h.Count != 1 || h.Sum != d {
		t.Fatalf("Observe(%v): counts %v, count %d, sum %v", d, h.Counts, h.Count, h.Sum)
	}
	return got
}

func TestObserveCountsABoundInItsOwnBucketAndAboveInTheNext(t *testing.T) {
	for i, b := range LatencyBounds {
		if got := bucket(t, b); got != i {
			t.Errorf("Observe(%v) (bound %d) went to bucket %d", b, i, got)
		}
		if got := bucket(t, b+1); got != i+1 {
			t.Errorf("Observe(%v) (just above bound %d) went to bucket %d", b+1, i, got)
		}
		if i > 0 {
			if got := bucket(t, LatencyBounds[i-1]+1); got != i {
				t.Errorf("Observe(%v) (just above bound %d) went to bucket %d", LatencyBounds[i-1]+1, i-1, got)
			}
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if got := bucket(t, d); got != 0 {
			t.Errorf("Observe(%v) went to bucket %d, want the first", d, got)
		}
	}
	if got, last := bucket(t, time.Hour), len(LatencyBounds); got != last {
		t.Errorf("Observe(1h) went to bucket %d, want the last (%d), above every bound", got, last)
	}
}

func TestLatencyBoundsAscend(t *testing.T) {
	for i := 1; i < len(LatencyBounds); i++ {
		if LatencyBounds[i] <= LatencyBounds[i-1] {
			t.Fatalf("bound %d (%v) is not above bound %d (%v)", i, LatencyBounds[i], i-1, LatencyBounds[i-1])
		}
	}
}

func TestSnapshotOfZeroValueIsEmptyAndShaped(t *testing.T) {
	var l Latencies
	h := l.Snapshot()
	if len(h.Bounds) != len(LatencyBounds) || len(h.Counts) != len(LatencyBounds)+1 {
		t.Fatalf("%d bounds and %d counts, want %d and %d", len(h.Bounds), len(h.Counts), len(LatencyBounds), len(LatencyBounds)+1)
	}
	for i, b := range h.Bounds {
		if b != LatencyBounds[i] {
			t.Fatalf("bound %d is %v, want %v", i, b, LatencyBounds[i])
		}
	}
	for _, c := range h.Counts {
		if c != 0 {
			t.Fatalf("zero value counted %v", h.Counts)
		}
	}
	if h.Count != 0 || h.Sum != 0 {
		t.Fatalf("zero value: count %d, sum %v", h.Count, h.Sum)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	var l Latencies
	l.Observe(time.Millisecond)
	h := l.Snapshot()
	h.Bounds[0], h.Counts[4] = time.Hour, 99
	l.Observe(time.Millisecond)
	again := l.Snapshot()
	if again.Bounds[0] != LatencyBounds[0] || LatencyBounds[0] != 50*time.Microsecond {
		t.Fatalf("changing a snapshot's bounds changed the histogram's: %v", again.Bounds[0])
	}
	if again.Counts[4] != 2 || h.Count != 1 || again.Count != 2 {
		t.Fatalf("snapshots share counts: first %+v, second %+v", h, again)
	}
}

func TestConcurrentObserveAndSnapshotLoseNothing(t *testing.T) {
	const goroutines, each = 8, 2000
	var l Latencies
	var wg sync.WaitGroup
	stop := make(chan struct{})
	snapshots := make(chan Histogram, 1)
	go func() { // snapshots run while observers count
		var last Histogram
		for {
			select {
			case <-stop:
				snapshots <- last
				return
			default:
				h := l.Snapshot()
				if h.Count < last.Count {
					t.Errorf("count went back from %d to %d", last.Count, h.Count)
				}
				last = h
			}
		}
	}()
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every goroutine observes zero and the same spread over
				// all buckets.
				l.Observe(0)
				l.Observe(bound(i))
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-snapshots

	h := l.Snapshot()
	if want := uint64(goroutines * each * 2); h.Count != want {
		t.Fatalf("count %d, want %d", h.Count, want)
	}
	var sum uint64
	for _, c := range h.Counts {
		sum += c
	}
	if sum != h.Count {
		t.Fatalf("buckets hold %d observations, count says %d", sum, h.Count)
	}
	var wantSum time.Duration
	wantCounts := make([]uint64, len(LatencyBounds)+1)
	for range goroutines {
		for i := range each {
			wantCounts[0]++ // the zero observation
			wantCounts[i%len(wantCounts)]++
			wantSum += bound(i)
		}
	}
	for i := range wantCounts {
		if h.Counts[i] != wantCounts[i] {
			t.Fatalf("counts %v, want %v", h.Counts, wantCounts)
		}
	}
	if h.Sum != wantSum {
		t.Fatalf("sum %v, want %v", h.Sum, wantSum)
	}
}

// bound returns a duration that falls in bucket i%(len(LatencyBounds)+1).
func bound(i int) time.Duration {
	if j := i % (len(LatencyBounds) + 1); j < len(LatencyBounds) {
		return LatencyBounds[j]
	}
	return LatencyBounds[len(LatencyBounds)-1] + time.Second
}
