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
)

// metrics are kept in the server and written in Prometheus' text format by
// hand: a handful of counters needs no client library. They count what
// this process served since it started; counts of stored executions by
// state would need a store scan per scrape, so they are not exported.
type metrics struct {
	invocations atomic.Uint64

	mu     sync.Mutex
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

func (m *metrics) invoked() { m.invocations.Add(1) }

func (m *metrics) request(route string, status int, d time.Duration) {
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
	b.WriteString("# HELP reprise_instances_parked Guest instances kept in memory while their execution awaits.\n# TYPE reprise_instances_parked gauge\n")
	for _, n := range names {
		fmt.Fprintf(&b, "reprise_instances_parked{tenant=%q} %d\n", n, hosts[n].Parked())
	}
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
