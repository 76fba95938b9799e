// Package server serves Reprise over HTTP: an HTTP/JSON API under /v1 to
// deploy functions, invoke them, inspect executions and create, settle and
// search durable promises (the promise routes speak Resonate's durable
// promise API), plus /healthz, /readyz and Prometheus /metrics. The API is
// described in openapi.json, which a test keeps in step with the routes.
//
// A [Server] is an http.Handler; [HTTPServer] wraps one in an http.Server
// with timeouts that bound slow clients. It does no durable work itself:
// each request is handed to a [Host], the small part of *host.Host the
// handlers need, so the state lives in the host and its store.
//
// # Tenants
//
// Every request runs for a [Tenant], found in its context ([TenantFrom]):
// with [Server.SetTenants], the one whose bearer token the request carries
// (a missing or unknown token is 401, and another tenant's objects are
// simply not there: each tenant has its own host and store); with
// [Server.SetHost], one [DefaultTenant] without authentication. A tenant's
// limits bound what its requests may send, how fast it may start
// executions and create promises, and how many pages of searches it may
// ask for (429 with Retry-After); the limits inside executions are its
// host's configuration. A write its store refuses for lack of space (the
// tenant's storage quota, the server's disk reserve) is 507 naming the
// limit. Tags and idempotency keys beginning with reprise: are the host's
// own and refused from requests (host.ErrReserved). Until SetHost or
// SetTenants is called, the API answers 503, so a process can listen while
// recovery runs.
//
// The server keeps no hosts of its own. A [Tenants] implementation maps a
// token to its tenant and host on every request and lists the running hosts
// for the metrics; a tenant's host that cannot serve answers 503 through
// [ErrUnavailable]. The multi-tenant one is the fleet of `reprise serve` in
// package cli/command: it opens a host and store per tenant at start (or on
// the first request of a tenant created later) and closes them all on
// shutdown.
//
// # Files
//
// server.go holds the routes, the checks made before the mux (headers over
// Config.MaxHeaderBytes, paths the mux would redirect: both answered in the
// JSON error form rather than net/http's plain text) and the wrapper every
// API request passes through (authentication, tenant, request log,
// metrics); functions.go,
// executions.go and promises.go the handlers; wire.go the JSON shapes and
// the parsing of requests; errors.go the error body and the mapping of the
// host's and store's errors to statuses and codes; limits.go body sizes and
// the rate limiter; metrics.go the Prometheus text, written by hand.
//
// # Concurrency
//
// A Server starts no goroutines: net/http runs each request on a goroutine
// of its own, so handlers run concurrently and reach their host
// concurrently, which a Host must allow. The server's own state is small.
// Which tenants it serves is an atomic pointer, swapped by SetHost or
// SetTenants at any time and read once per request without a lock. The
// count of invocations is atomic; apiMetrics.mu guards the per-route
// request counts and latencies, and rates.mu the token buckets of each
// tenant (one rates for creations, another for searches). Each is held
// only for a few additions, or, for the route counts, while /metrics
// writes them out. A scrape asks each host and store for its
// figures outside those locks (host.Stats, Host.StoreStats).
package server
