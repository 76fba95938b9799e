package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/metrics"
	"github.com/reprise-wasm/reprise/store"
)

// apiMetrics are the server's own figures: invocations and API requests
// this process served since it started. They and the per-tenant ones, which
// come from each tenant's host and store (host.Stats, store.Stats) and are
// kept as they go so a scrape scans nothing, are written in Prometheus' text
// format by hand: a handful of counters needs no client library.
type apiMetrics struct {
	invocations atomic.Uint64

	mu     sync.Mutex             // guards routes and every routeStats in it
	routes map[string]*routeStats // by "METHOD /pattern"
}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type routeStats struct {
	byStatus map[int]uint64
	buckets  []uint64 // counts per bucket (not cumulative), +Inf last
	sum      float64
	count    uint64
}

func (m *apiMetrics) invoked() { m.invocations.Add(1) }

func (m *apiMetrics) request(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes == nil {
		m.routes = map[string]*routeStats{}
	}
	rs := m.routes[route]
	if rs == nil {
		rs = &routeStats{byStatus: map[int]uint64{}, buckets: make([]uint64, len(latencyBuckets)+1)}
		m.routes[route] = rs
	}
	rs.byStatus[status]++
	sec := d.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, sec)
	rs.buckets[i]++
	rs.sum += sec
	rs.count++
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	ready := 0
	var hosts map[string]Host
	if box := s.tenants.Load(); box != nil {
		ready, hosts = 1, box.Hosts()
	}
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "# HELP reprise_ready Whether the host has recovered and serves the API.\n# TYPE reprise_ready gauge\nreprise_ready %d\n", ready)
	s.writeHostMetrics(r.Context(), &b, names, hosts)
	fmt.Fprintf(&b, "# HELP reprise_invocations_total Executions invoked through this server since it started.\n# TYPE reprise_invocations_total counter\nreprise_invocations_total %d\n", s.metrics.invocations.Load())

	s.metrics.mu.Lock()
	routes := make([]string, 0, len(s.metrics.routes))
	for k := range s.metrics.routes {
		routes = append(routes, k)
	}
	slices.Sort(routes)
	b.WriteString("# HELP reprise_http_requests_total API requests served, by route and status.\n# TYPE reprise_http_requests_total counter\n")
	for _, rt := range routes {
		rs := s.metrics.routes[rt]
		codes := make([]int, 0, len(rs.byStatus))
		for c := range rs.byStatus {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			fmt.Fprintf(&b, "reprise_http_requests_total{route=%q,code=\"%d\"} %d\n", rt, c, rs.byStatus[c])
		}
	}
	b.WriteString("# HELP reprise_http_request_duration_seconds API request latency, by route (invoke includes ?wait).\n# TYPE reprise_http_request_duration_seconds histogram\n")
	for _, rt := range routes {
		rs := s.metrics.routes[rt]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += rs.buckets[i]
			fmt.Fprintf(&b, "reprise_http_request_duration_seconds_bucket{route=%q,le=\"%g\"} %d\n", rt, le, cum)
		}
		fmt.Fprintf(&b, "reprise_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", rt, rs.count)
		fmt.Fprintf(&b, "reprise_http_request_duration_seconds_sum{route=%q} %g\n", rt, rs.sum)
		fmt.Fprintf(&b, "reprise_http_request_duration_seconds_count{route=%q} %d\n", rt, rs.count)
	}
	s.metrics.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}

type loggerKey struct{}

// slogFrom returns the request's logger (with its request-id), else the default.
func slogFrom(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

func tenantID(r *http.Request) string {
	t, _ := TenantFrom(r.Context())
	return t.ID
}

// writeHostMetrics writes each tenant's host and store figures.
func (s *Server) writeHostMetrics(ctx context.Context, b *strings.Builder, names []string, hosts map[string]Host) {
	type figures struct {
		h  host.Stats
		st store.Stats
		ok bool // the store answered
	}
	fs := make([]figures, len(names))
	for i, n := range names {
		fs[i].h = hosts[n].Stats()
		st, err := hosts[n].StoreStats(ctx)
		fs[i].st, fs[i].ok = st, err == nil
	}
	gauge := func(name, help string, v func(figures) uint64) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for i, n := range names {
			fmt.Fprintf(b, "%s{tenant=%q} %d\n", name, n, v(fs[i]))
		}
	}
	gauge("reprise_instances_parked", "Guest instances kept in memory while their execution awaits.", func(f figures) uint64 { return uint64(f.h.Parked) })
	gauge("reprise_guests_running", "Guests running now (each tenant at most its concurrency limit).", func(f figures) uint64 { return uint64(f.h.Running) })
	gauge("reprise_memory_budget_bytes", "The tenant's memory budget (memory_budget, within the server's).", func(f figures) uint64 { return uint64(max(f.h.Memory.Limit, 0)) })
	gauge("reprise_memory_held_bytes", "Memory the server holds for the tenant, as its budget counts it.", func(f figures) uint64 { return uint64(max(f.h.Memory.Held, 0)) })
	gauge("reprise_memory_waiting", "Reservations waiting for the tenant's memory budget (runs queued for memory).", func(f figures) uint64 { return uint64(max(f.h.Memory.Waiting, 0)) })
	gauge("reprise_memory_refusals", "Reservations, since the server started, that the tenant's memory budget refused (deploys, pool fills, hot wakes that went cold).", func(f figures) uint64 { return f.h.Memory.Refused })

	b.WriteString("# HELP reprise_executions Stored executions by the state of their promise.\n# TYPE reprise_executions gauge\n")
	for i, n := range names {
		if !fs[i].ok {
			continue
		}
		for st, c := range fs[i].st.Executions {
			fmt.Fprintf(b, "reprise_executions{tenant=%q,state=%q} %d\n", n, store.State(st).String(), c)
		}
	}
	b.WriteString("# HELP reprise_executions_finished_total Executions whose result this process wrote, by state.\n# TYPE reprise_executions_finished_total counter\n")
	for i, n := range names {
		for st, c := range fs[i].h.Finished {
			fmt.Fprintf(b, "reprise_executions_finished_total{tenant=%q,state=%q} %d\n", n, store.State(st).String(), c)
		}
	}
	// Journal bytes are what the stored journals occupy: purges take
	// theirs off, so it is a gauge.
	b.WriteString("# HELP reprise_journal_bytes Bytes the stored journals occupy (keys and values); purges past the retention take theirs off.\n# TYPE reprise_journal_bytes gauge\n")
	for i, n := range names {
		if fs[i].ok {
			fmt.Fprintf(b, "reprise_journal_bytes{tenant=%q} %d\n", n, fs[i].st.JournalBytes)
		}
	}
	b.WriteString("# HELP reprise_executions_purged_total Executions purged past the retention since the store was created.\n# TYPE reprise_executions_purged_total counter\n")
	for i, n := range names {
		if fs[i].ok {
			fmt.Fprintf(b, "reprise_executions_purged_total{tenant=%q} %d\n", n, fs[i].st.Purged)
		}
	}
	histogram(b, "reprise_step_duration_seconds", "Time a guest runs between blocking host calls (its own time, without the host's).", names, func(i int) (metrics.Histogram, bool) { return fs[i].h.Steps, true })
	histogram(b, "reprise_store_sync_duration_seconds", "Latency of the store's durable commits (one fsync per group of operations).", names, func(i int) (metrics.Histogram, bool) { return fs[i].st.Syncs, fs[i].ok })
}

// histogram writes one metrics.Histogram per tenant in Prometheus' format
// (cumulative buckets).
func histogram(b *strings.Builder, name, help string, names []string, get func(int) (metrics.Histogram, bool)) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	for i, n := range names {
		h, ok := get(i)
		if !ok {
			continue
		}
		var cum uint64
		for j, le := range h.Bounds {
			cum += h.Counts[j]
			fmt.Fprintf(b, "%s_bucket{tenant=%q,le=\"%g\"} %d\n", name, n, le.Seconds(), cum)
		}
		fmt.Fprintf(b, "%s_bucket{tenant=%q,le=\"+Inf\"} %d\n", name, n, h.Count)
		fmt.Fprintf(b, "%s_sum{tenant=%q} %g\n", name, n, h.Sum.Seconds())
		fmt.Fprintf(b, "%s_count{tenant=%q} %d\n", name, n, h.Count)
	}
}
