package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/tenant"
)

// Host is what the handlers need of a host: *host.Host implements it. A
// small interface keeps handlers testable and lets a multi-tenant server
// hand each tenant its own.
type Host interface {
	Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error)
	Functions(ctx context.Context) ([]store.Function, error)
	DeleteFunction(ctx context.Context, name string) error
	Invoke(ctx context.Context, name string, input []byte, opts host.InvokeOptions) (string, error)
	InvokeWait(ctx context.Context, name string, input []byte, opts host.InvokeOptions, wait time.Duration) (store.Promise, error)
	Await(ctx context.Context, id string) (store.Promise, error)
	Get(ctx context.Context, id string) (store.Promise, error)
	Execution(ctx context.Context, id string) (store.Execution, error)
	Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error)
	Settle(ctx context.Context, s store.Settle) (store.SettleResult, error)
	Cancel(ctx context.Context, id string) (store.Promise, error)
	CreatePromise(ctx context.Context, c store.Create) (store.Promise, bool, error)
	Search(ctx context.Context, q store.Query) ([]store.Promise, string, error)
	Parked() int
	Stats() host.Stats
	StoreStats(ctx context.Context) (store.Stats, error)
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
	// MaxHeaderBytes bounds a request's line and headers: over it, a 431
	// in the API's JSON error form. Default DefaultMaxHeaderBytes. (The
	// http.Server of HTTPServer refuses, in plain text, only far larger.)
	MaxHeaderBytes int
	// MetricsElsewhere leaves GET /metrics off the API's routes, for a
	// server that serves MetricsHandler on another (private) listener: the
	// metrics name every tenant.
	MetricsElsewhere bool
}

// Defaults.
const (
	DefaultMaxModule  = 64 << 20
	DefaultMaxPayload = 1 << 20
	DefaultMaxWait    = 60 * time.Second

	DefaultMaxHeaderBytes = 64 << 10
)

// Tenants finds who a request runs for.
type Tenants interface {
	// Authenticate returns the tenant a bearer token belongs to and the host
	// serving it; token is "" when the request carried none. An unknown
	// token is an error wrapping tenant.ErrUnauthorized.
	Authenticate(ctx context.Context, token string) (Tenant, Host, error)
	// Hosts returns the hosts running now, by tenant, for the metrics.
	Hosts() map[string]Host
}

// Server is the HTTP API. It is an http.Handler; it serves 503 (but
// /healthz) until SetHost or SetTenants gives it hosts, so a process can
// listen while recovery runs.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tenants  atomic.Pointer[tenantsBox]
	mux      *http.ServeMux
	patterns []string // as registered, "METHOD /path"
	metrics  apiMetrics
	rates    rates // creations, by tenant
	searches rates // searches, by tenant
}

type tenantsBox struct {
	Tenants
	auth bool // requests must carry a token
}

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
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.routes()
	if h != nil {
		s.SetHost(h)
	}
	return s
}

// SetHost makes the server ready, serving h to every request as
// DefaultTenant, without authentication. Its limits are the Config's sizes;
// the rate of invocations is not limited.
func (s *Server) SetHost(h Host) {
	t := DefaultTenant
	t.Limits = tenant.Limits{ModuleSize: s.cfg.MaxModule, PayloadSize: s.cfg.MaxPayload}
	s.tenants.Store(&tenantsBox{Tenants: single{t, h}})
}

// SetTenants makes the server ready, serving each request for the tenant
// its bearer token names.
func (s *Server) SetTenants(ts Tenants) { s.tenants.Store(&tenantsBox{Tenants: ts, auth: true}) }

// single is the one tenant of a server without authentication.
type single struct {
	t Tenant
	h Host
}

func (o single) Authenticate(context.Context, string) (Tenant, Host, error) { return o.t, o.h, nil }
func (o single) Hosts() map[string]Host                                     { return map[string]Host{o.t.ID: o.h} }

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
		if s.tenants.Load() == nil {
			http.Error(w, "recovering\n", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	}))
	if !s.cfg.MetricsElsewhere {
		s.handle("GET /metrics", s.MetricsHandler())
	}
	// Anything else under /v1 answers in the API's error format.
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, apiError(http.StatusNotFound, 0, "no route %s %s", r.Method, r.URL.Path))
	})
}

// MetricsHandler serves the Prometheus metrics (what GET /metrics does).
func (s *Server) MetricsHandler() http.Handler { return http.HandlerFunc(s.serveMetrics) }

// ServeHTTP implements http.Handler. What net/http's ServeMux would answer
// in its own plain form (a redirect to the cleaned path, which a client
// following it would take for another resource) is answered here first, in
// the API's JSON error form, as are headers over the limit.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := headerBytes(r); n > s.cfg.MaxHeaderBytes {
		writeError(w, r, apiError(http.StatusRequestHeaderFieldsTooLarge, codeHeaderTooLarge,
			"the request line and headers are %d bytes, over the limit of %d: send fewer or shorter headers", n, s.cfg.MaxHeaderBytes))
		return
	}
	// The mux cleans the escaped path, as it matches on it: ..%2F is a
	// name (refused by its handler), ../ a segment.
	if p := r.URL.EscapedPath(); r.Method != http.MethodConnect && (p == "" || path.Clean(p) != p && path.Clean(p)+"/" != p) || p == "/v1" {
		writeError(w, r, apiError(http.StatusNotFound, codeNotFound,
			"no route %s %s: a path has no empty, . or .. segments (and names are never . or ..)", r.Method, p))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// headerBytes is about what net/http counts against MaxHeaderBytes: the
// request line and every header line (Host is not in r.Header).
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// api wraps a handler of the API: it authenticates the request, resolves
// its tenant and host, and records the request in the metrics.
func (s *Server) api(pattern string, fn func(http.ResponseWriter, *http.Request, Host)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.request(r.Method+" "+pattern, sw.status, time.Since(start)) }()
		box := s.tenants.Load()
		if box == nil {
			writeError(sw, r, apiError(http.StatusServiceUnavailable, 0, "the server is starting: recovery is still running"))
			return
		}
		token, err := bearer(r)
		if err == nil && box.auth && token == "" {
			err = apiError(http.StatusUnauthorized, 0, "missing credentials: send the header Authorization: Bearer TOKEN, with a token from `reprise tenant create`")
		}
		if err != nil {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="reprise"`)
			writeError(sw, r, err)
			return
		}
		t, h, err := box.Authenticate(r.Context(), token)
		if err != nil {
			if errors.Is(err, tenant.ErrUnauthorized) {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="reprise", error="invalid_token"`)
				err = apiError(http.StatusUnauthorized, codeUnauthorized, "the token is not valid (unknown, mistyped, or replaced by `reprise tenant rotate`)")
			}
			writeError(sw, r, err)
			return
		}
		ctx := withTenant(r.Context(), t)
		log := s.log
		if id := r.Header.Get("Request-Id"); id != "" {
			log = log.With("request_id", id) // the promise API's request-id, echoed into logs
		}
		r = r.WithContext(withLogger(ctx, log))
		fn(sw, r, h)
	})
}

// bearer returns the request's bearer token, "" when it has none.
func bearer(r *http.Request) (string, error) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", apiError(http.StatusUnauthorized, 0, "malformed Authorization header: want Authorization: Bearer TOKEN")
	}
	return strings.TrimSpace(token), nil
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

// Tenant is who a request runs for and what it may use.
type Tenant struct {
	ID string
	// Limits bound the tenant's requests (sizes, rate of invocations);
	// zero fields do not limit. The limits inside executions (memory, step
	// time, journal length, HTTP) are its host's configuration.
	Limits tenant.Limits
}

// DefaultTenant is the single tenant of a server without authentication.
var DefaultTenant = Tenant{ID: "default"}

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
		// Server.ServeHTTP refuses headers over Config.MaxHeaderBytes in
		// JSON; net/http's own limit, answered in plain text, is a
		// backstop well above it.
		MaxHeaderBytes: 4 * DefaultMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
