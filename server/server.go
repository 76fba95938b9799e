// Package server serves Reprise over HTTP: an HTTP/JSON API under /v1 to
// deploy functions, invoke them, inspect executions and create, settle and
// search durable promises (the promise routes speak Resonate's durable
// promise API), plus /healthz, /readyz and Prometheus /metrics.
//
// Every request runs for a tenant, found in its context (TenantFrom). This
// version serves one default tenant; authentication and per-tenant hosts
// and limits plug in where Server.tenant resolves it.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
)

// Host is what the handlers need of a host: *host.Host implements it. A
// small interface keeps handlers testable and lets a multi-tenant server
// hand each tenant its own.
type Host interface {
	Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error)
	Functions(ctx context.Context) ([]store.Function, error)
	DeleteFunction(ctx context.Context, name string) error
	Invoke(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (string, error)
	Await(ctx context.Context, id string) (store.Promise, error)
	Get(ctx context.Context, id string) (store.Promise, error)
	Execution(ctx context.Context, id string) (store.Execution, error)
	Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error)
	Settle(ctx context.Context, s store.Settle) (store.SettleResult, error)
	Cancel(ctx context.Context, id string) (store.Promise, error)
	CreatePromise(ctx context.Context, c store.Create) (store.Promise, bool, error)
	Search(ctx context.Context, q store.Query) ([]store.Promise, string, error)
	Parked() int
}

var _ Host = (*host.Host)(nil)

// Config configures a Server. Zero values are sensible defaults.
type Config struct {
	Logger *slog.Logger
	// MaxModule bounds an uploaded module. Default 64 MiB.
	MaxModule int64
	// MaxPayload bounds inputs, params and values; it should be the host's
	// (host.Config.MaxPayload). Default 1 MiB.
	MaxPayload int64
	// MaxWait caps ?wait on invoke. Default 60s. An http.Server's
	// WriteTimeout must exceed it (HTTPServer sees to that).
	MaxWait time.Duration
}

// Defaults.
const (
	DefaultMaxModule  = 64 << 20
	DefaultMaxPayload = 1 << 20
	DefaultMaxWait    = 60 * time.Second
)

// Server is the HTTP API. It is an http.Handler; it serves 503 (but
// /healthz) until SetHost gives it a host, so a process can listen while
// recovery runs.
type Server struct {
	cfg      Config
	log      *slog.Logger
	host     atomic.Pointer[hostBox]
	mux      *http.ServeMux
	patterns []string // as registered, "METHOD /path"
	metrics  metrics
}

type hostBox struct{ Host }

// New returns a server; h may be nil until SetHost.
func New(h Host, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxModule <= 0 {
		cfg.MaxModule = DefaultMaxModule
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.routes()
	if h != nil {
		s.SetHost(h)
	}
	return s
}

// SetHost makes the server ready, serving with h.
func (s *Server) SetHost(h Host) { s.host.Store(&hostBox{h}) }

// route is one documented route; the OpenAPI test checks the list.
type route struct {
	method, path string
	handler      func(http.ResponseWriter, *http.Request, Host)
}

func (s *Server) routeTable() []route {
	return []route{
		{"GET", "/v1/functions", s.listFunctions},
		{"GET", "/v1/functions/{name}", s.getFunction},
		{"PUT", "/v1/functions/{name}", s.putFunction},
		{"DELETE", "/v1/functions/{name}", s.deleteFunction},
		{"POST", "/v1/functions/{name}/invoke", s.invoke},
		{"GET", "/v1/executions", s.listExecutions},
		{"GET", "/v1/executions/{id}", s.getExecution},
		{"GET", "/v1/executions/{id}/history", s.history},
		{"POST", "/v1/executions/{id}/cancel", s.cancel},
		{"POST", "/v1/promises", s.createPromise},
		{"GET", "/v1/promises", s.searchPromises},
		{"GET", "/v1/promises/{id}", s.getPromise},
		{"PATCH", "/v1/promises/{id}", s.settlePromise},
	}
}

// handle registers a documented route; the OpenAPI test compares
// s.patterns with openapi.json.
func (s *Server) handle(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, h)
}

func (s *Server) routes() {
	for _, r := range s.routeTable() {
		s.handle(r.method+" "+r.path, s.api(r.path, r.handler))
	}
	s.handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
	s.handle("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.host.Load() == nil {
			http.Error(w, "recovering\n", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	}))
	s.handle("GET /metrics", http.HandlerFunc(s.serveMetrics))
	// Anything else under /v1 answers in the API's error format.
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, apiError(http.StatusNotFound, 0, "no route %s %s", r.Method, r.URL.Path))
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// api wraps a handler of the API: it resolves the tenant and its host,
// and records the request in the metrics.
func (s *Server) api(pattern string, fn func(http.ResponseWriter, *http.Request, Host)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.request(r.Method+" "+pattern, sw.status, time.Since(start)) }()
		box := s.host.Load()
		if box == nil {
			writeError(sw, r, apiError(http.StatusServiceUnavailable, 0, "the server is starting: recovery is still running"))
			return
		}
		ctx := withTenant(r.Context(), DefaultTenant)
		log := s.log
		if id := r.Header.Get("Request-Id"); id != "" {
			log = log.With("request_id", id) // the promise API's request-id, echoed into logs
		}
		r = r.WithContext(withLogger(ctx, log))
		fn(sw, r, box.Host)
	})
}

// statusWriter remembers the status for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Tenant is who a request runs for.
type Tenant struct{ ID string }

// DefaultTenant is the single tenant of a server without authentication.
var DefaultTenant = Tenant{ID: "default"}

type tenantKey struct{}

func withTenant(ctx context.Context, t Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// TenantFrom returns the tenant a request's context runs for.
func TenantFrom(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}

// HTTPServer returns an http.Server for h with timeouts that bound slow
// clients: headers within 10s, a whole request (a module upload) within a
// minute, a response within maxWait plus a margin, idle connections 2 min.
func HTTPServer(addr string, h http.Handler, maxWait time.Duration, log *slog.Logger) *http.Server {
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      maxWait + 30*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
