package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
)

// Error codes of limits; the body names the limit in "limit" too.
const (
	codeUnauthorized = 40100
	codeRateLimited  = 42900
)

// limitError is a request refused by one of its tenant's limits.
func limitError(status int, limit, format string, args ...any) *httpError {
	e := apiError(status, 0, "limit %s: %s", limit, fmt.Sprintf(format, args...))
	e.Limit = limit
	return e
}

// tenantOf returns the tenant the request runs for.
func tenantOf(r *http.Request) Tenant {
	t, _ := TenantFrom(r.Context())
	return t
}

// readBody reads the request body up to limit bytes (0: no limit); a longer
// body is a 413 naming the limit.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, name string) ([]byte, error) {
	if limit <= 0 {
		limit = math.MaxInt64
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, limitError(http.StatusRequestEntityTooLarge, name,
				"the body is over this tenant's limit of %d bytes", limit)
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	return buf.Bytes(), nil
}

// valueSize is what a promise value stores: its data, its headers, and the
// tags and idempotency key that come with it, all bounded together by the
// payload limit.
func valueSize(v store.Value, tags map[string]string, key string) int {
	n := len(v.Data) + len(key)
	for k, x := range v.Headers {
		n += len(k) + len(x)
	}
	for k, x := range tags {
		n += len(k) + len(x)
	}
	return n
}

// checkPayload refuses a value over the tenant's payload limit.
func checkPayload(r *http.Request, what string, n int) error {
	limit := tenantOf(r).Limits.PayloadSize
	if limit > 0 && int64(n) > limit {
		return limitError(http.StatusRequestEntityTooLarge, tenant.LimitPayloadSize,
			"the %s is %d bytes, over this tenant's limit of %d", what, n, limit)
	}
	return nil
}

// rates holds a token bucket per tenant: for the executions and promises
// it creates (Server.rates), or for its searches (Server.searches).
type rates struct {
	mu      sync.Mutex // guards buckets and every bucket in it
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// admit takes one token from the bucket of key (a tenant), filled at rate
// per second up to burst, or says how long to wait for one. Rate 0 is no
// limit. The bucket follows the tenant's current limits, so a changed rate
// applies at once.
func (rs *rates) admit(key string, rate float64, burst int, now time.Time) (ok bool, wait time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	capacity := float64(max(burst, 1))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.buckets == nil {
		rs.buckets = map[string]*bucket{}
	}
	b := rs.buckets[key]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		rs.buckets[key] = b
	}
	b.tokens = min(capacity, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// admit applies the tenant's rate of creations (executions and promises):
// over it, a 429 with Retry-After. Nothing was accepted, so nothing is lost.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) error {
	t := tenantOf(r)
	ok, wait := s.rates.admit(t.ID, t.Limits.Rate, t.Limits.Burst, time.Now())
	if ok {
		return nil
	}
	e := limitError(http.StatusTooManyRequests, tenant.LimitRate,
		"this tenant may create %g executions and promises per second (bursts of %d); retry after %v", t.Limits.Rate, t.Limits.Burst, wait.Round(time.Millisecond))
	return tooMany(w, e, wait)
}

// admitSearch applies the tenant's rate of searches: each page's work is
// bounded by the store, and this bounds how many pages a tenant asks for,
// so searching cannot take the CPU from other tenants.
func (s *Server) admitSearch(w http.ResponseWriter, r *http.Request) error {
	t := tenantOf(r)
	rate := t.Limits.SearchRate
	burst := int(math.Ceil(2 * rate))
	ok, wait := s.searches.admit(t.ID, rate, burst, time.Now())
	if ok {
		return nil
	}
	e := limitError(http.StatusTooManyRequests, tenant.LimitSearchRate,
		"this tenant may search %g pages per second (bursts of %d); retry after %v", rate, burst, wait.Round(time.Millisecond))
	return tooMany(w, e, wait)
}

// tooMany is a 429 for limit error e, with Retry-After for wait.
func tooMany(w http.ResponseWriter, e *httpError, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	e.Code = codeRateLimited
	return e
}

// admitDeploy applies the tenant's rate of deploys: each compiles a module,
// which costs CPU and a memory peak. Over it, a 429 with Retry-After.
func (s *Server) admitDeploy(w http.ResponseWriter, r *http.Request) error {
	t := tenantOf(r)
	ok, wait := s.rates.admit("deploy:"+t.ID, t.Limits.DeployRate, t.Limits.DeployBurst, time.Now())
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	e := limitError(http.StatusTooManyRequests, tenant.LimitDeployRate,
		"this tenant may deploy %g modules per second (bursts of %d); retry after %v", t.Limits.DeployRate, t.Limits.DeployBurst, wait.Round(time.Millisecond))
	e.Code = codeRateLimited
	return e
}

// withTenant, TenantFrom: the tenant in a request's context.
type tenantKey struct{}

func withTenant(ctx context.Context, t Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// TenantFrom returns the tenant a request's context runs for.
func TenantFrom(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}
