package host

import (
	"maps"
	"testing"
)

// A map a burst filled is copied (shrunk resets its peak to what it holds)
// once it holds under an eighth of that peak, and not before; the copy
// holds the same entries. A map that never held many is left alone.
func TestShrunkCopiesAMapABurstLeftMostlyEmpty(t *testing.T) {
	const n = 4096
	m, peak := map[int]int{}, 0
	for i := range n {
		m[i] = i
		peak = max(peak, len(m))
	}
	for i := range n - n/8 {
		delete(m, i)
	}
	if m = shrunk(m, &peak); peak != n {
		t.Fatalf("at %d of %d entries the map was copied (peak now %d)", len(m), n, peak)
	}
	delete(m, n-n/8)
	want := maps.Clone(m)
	if m = shrunk(m, &peak); peak != len(m) || !maps.Equal(m, want) {
		t.Fatalf("under an eighth: peak %d for %d entries, same entries %v; want a copy", peak, len(m), maps.Equal(m, want))
	}
	small, p := map[int]int{1: 1}, 1
	delete(small, 1)
	if shrunk(small, &p); p != 1 {
		t.Fatal("a map that never held many was copied")
	}
}
