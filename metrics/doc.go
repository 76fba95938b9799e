// Package metrics holds the duration histograms Reprise keeps for
// monitoring: the store's sync latency (store.Stats.Syncs) and the guests'
// step times (host.Stats.Steps), which the server writes out in
// Prometheus' text format.
//
// A [Latencies] is the live side: a fixed set of buckets ([LatencyBounds])
// that hot paths count into with [Latencies.Observe]. A [Histogram] is the
// read side: a plain value that [Latencies.Snapshot] copies the counts into,
// safe to pass around and compare.
//
// # Concurrency
//
// The package starts no goroutines and has no locks. Latencies is a set of
// atomic counters: any number of goroutines may Observe and Snapshot at
// once. The counters are read one by one, so a Snapshot taken during an
// Observe may hold that observation in some of Counts, Count and Sum but not
// in the others; the figures of a snapshot agree with each other once no
// Observe is under way.
package metrics
