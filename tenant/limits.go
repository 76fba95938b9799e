package tenant

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits bound what one tenant may use. A zero field means the default
// (DefaultLimits); the JSON names are the ones error bodies and the CLI use
// to name a limit.
type Limits struct {
	// Memory caps each instance's linear memory, in bytes.
	Memory uint64 `json:"memory,omitempty"`
	// StepTime bounds how long a guest runs between two blocking calls.
	StepTime Duration `json:"step_time,omitempty"`
	// Concurrency is how many of the tenant's guests run at once; more
	// executions wait their turn durably, they are never refused.
	Concurrency int `json:"concurrency,omitempty"`
	// Rate is how many executions and promises the tenant may create per
	// second through the API, with bursts of up to Burst.
	Rate  float64 `json:"rate,omitempty"`
	Burst int     `json:"burst,omitempty"`
	// ModuleSize bounds an uploaded module, in bytes.
	ModuleSize int64 `json:"module_size,omitempty"`
	// PayloadSize bounds inputs, results, promise values (with their
	// headers, tags and idempotency key) and http bodies.
	PayloadSize int64 `json:"payload_size,omitempty"`
	// JournalLength bounds the journal of one execution attempt (its steps).
	JournalLength int `json:"journal_length,omitempty"`
	// SearchRate is how many promise and execution searches (pages) the
	// tenant may make per second through the API, with bursts of twice
	// that: each page's work is bounded, and this bounds how many.
	SearchRate float64 `json:"search_rate,omitempty"`
	// Storage bounds what the tenant's store may occupy on disk, in bytes;
	// past it, writes are refused (507) and reads go on.
	Storage int64 `json:"storage,omitempty"`
	// Pending bounds the tenant's pending executions (queued, running or
	// waiting): an invocation past it is refused, from the API with 429.
	Pending int `json:"pending,omitempty"`
	// Children bounds the children one execution attempt invokes; Depth
	// how deep invocations nest (a top-level execution is at depth 0). A
	// guest's invoke past either, or past Pending, gets a rejected promise
	// naming the limit.
	Children int `json:"children,omitempty"`
	Depth    int `json:"depth,omitempty"`
	// MemoryBudget bounds the memory the server holds for the tenant:
	// instances (ready, running, parked), compiles, buffered journal
	// entries and arguments, HTTP bodies in flight. It is capped by the
	// server's --memory-budget, which all tenants share.
	MemoryBudget int64 `json:"memory_budget,omitempty"`
	// Compiles bounds the tenant's modules compiled at once.
	Compiles int `json:"compiles,omitempty"`
	// DeployRate is how many deploys per second the tenant may make, with
	// bursts of up to DeployBurst.
	DeployRate  float64 `json:"deploy_rate,omitempty"`
	DeployBurst int     `json:"deploy_burst,omitempty"`
	// FunctionBodySize bounds each function body of a module, in bytes:
	// compiling one function takes up to ~800 bytes of memory per byte.
	FunctionBodySize int64 `json:"function_body_size,omitempty"`
	// HTTPAllow lists the hosts guests may reach over HTTP: names,
	// "*.example.com" for subdomains, "*" for any. Empty: none.
	HTTPAllow []string `json:"http_allow,omitempty"`
	// HTTPAllowRanges lists the internal address ranges (CIDRs, or single
	// addresses) guests may connect to. Every connection is checked on the
	// address dialled: loopback, private, link-local, CGNAT, unique-local,
	// multicast and unspecified addresses are refused, whatever name led
	// there, unless a range here holds them. Empty: none.
	HTTPAllowRanges []string `json:"http_allow_ranges,omitempty"`
	// Retention is how long the tenant's finished executions and settled
	// promises are kept, journals included, once settled; then they are
	// purged. Forever ("forever" in JSON) keeps them all.
	Retention Duration `json:"retention,omitempty"`
}

// Forever as Limits.Retention keeps every finished execution and promise.
const Forever Duration = -1

// minRetention is the shortest retention: a client reading a result just
// after it settles must find it.
const minRetention = Duration(time.Second)

// ParseRetention reads a retention: a duration ("72h", "90m"), a number of
// days ("30d"), or "forever" (also "0") to keep everything.
func ParseRetention(s string) (Duration, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if t == "forever" || t == "0" {
		return Forever, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a retention: write days as 30d, a duration as 72h, or forever", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if v, err := time.ParseDuration(t); err == nil {
		d = v
	} else {
		return 0, fmt.Errorf("%q is not a retention: write days as 30d, a duration as 72h, or forever", s)
	}
	if Duration(d) < minRetention {
		return 0, fmt.Errorf("%q is too short a retention: a result must outlive its reading; give at least 1s, or forever", s)
	}
	return Duration(d), nil
}

// The limit names, as error bodies report them.
const (
	LimitMemory        = "memory"
	LimitStepTime      = "step_time"
	LimitConcurrency   = "concurrency"
	LimitRate          = "rate"
	LimitModuleSize    = "module_size"
	LimitPayloadSize   = "payload_size"
	LimitJournalLength = "journal_length"
	LimitHTTPAllow     = "http_allow"
	LimitSearchRate    = "search_rate"
	LimitStorage       = "storage" // as store.LimitStorage
	// LimitHTTPAllowRanges names HTTPAllowRanges.
	LimitHTTPAllowRanges = "http_allow_ranges"
	LimitPending         = "pending"
	LimitChildren        = "children"
	LimitDepth           = "depth"
	LimitMemoryBudget    = "memory_budget"
	LimitCompiles        = "compiles"
	LimitDeployRate      = "deploy_rate"
	LimitFunctionBody    = "function_body_size"
	LimitRetention       = "retention"
	// LimitServerMemory is the server's --memory-budget, which every
	// tenant's memory_budget is inside of.
	LimitServerMemory = "server_memory_budget"
)

// DefaultLimits are safe for a shared server on a small machine.
func DefaultLimits() Limits {
	return Limits{
		Memory:        128 << 20,
		StepTime:      Duration(10 * time.Second),
		Concurrency:   4,
		Rate:          100,
		Burst:         200,
		ModuleSize:    32 << 20,
		PayloadSize:   1 << 20,
		JournalLength: 10_000,
		SearchRate:    50,
		Storage:       1 << 30,
		Pending:       10_000,
		Children:      1_000,
		Depth:         16,
		MemoryBudget:  1 << 30,
		Compiles:      1,
		DeployRate:    2,
		DeployBurst:   20,
		// 9× the largest function body of a Go guest (29 KB).
		FunctionBodySize: 256 << 10,
		Retention:        Duration(7 * 24 * time.Hour),
	}
}

// WithDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	l.Memory = cmp.Or(l.Memory, d.Memory)
	l.StepTime = cmp.Or(l.StepTime, d.StepTime)
	l.Concurrency = cmp.Or(l.Concurrency, d.Concurrency)
	l.Rate = cmp.Or(l.Rate, d.Rate)
	l.Burst = cmp.Or(l.Burst, max(d.Burst, int(l.Rate)))
	l.ModuleSize = cmp.Or(l.ModuleSize, d.ModuleSize)
	l.PayloadSize = cmp.Or(l.PayloadSize, d.PayloadSize)
	l.JournalLength = cmp.Or(l.JournalLength, d.JournalLength)
	l.SearchRate = cmp.Or(l.SearchRate, d.SearchRate)
	l.Storage = cmp.Or(l.Storage, d.Storage)
	l.Pending = cmp.Or(l.Pending, d.Pending)
	l.Children = cmp.Or(l.Children, d.Children)
	l.Depth = cmp.Or(l.Depth, d.Depth)
	l.MemoryBudget = cmp.Or(l.MemoryBudget, d.MemoryBudget)
	l.Compiles = cmp.Or(l.Compiles, d.Compiles)
	l.DeployRate = cmp.Or(l.DeployRate, d.DeployRate)
	l.DeployBurst = cmp.Or(l.DeployBurst, max(d.DeployBurst, int(l.DeployRate)))
	l.FunctionBodySize = cmp.Or(l.FunctionBodySize, d.FunctionBodySize)
	l.Retention = cmp.Or(l.Retention, d.Retention)
	return l
}

// Validate reports a limit that makes no sense.
func (l Limits) Validate() error {
	switch {
	case l.Memory != 0 && l.Memory < 64<<10:
		return fmt.Errorf("limit %s: %d bytes is less than one 64 KiB page", LimitMemory, l.Memory)
	case l.Memory > 4<<30:
		return fmt.Errorf("limit %s: %d bytes is more than the 4 GiB a 32-bit guest can address", LimitMemory, l.Memory)
	case l.StepTime < 0 || l.Concurrency < 0 || l.Rate < 0 || l.Burst < 0 ||
		l.ModuleSize < 0 || l.PayloadSize < 0 || l.JournalLength < 0 || l.Storage < 0 ||
		l.Pending < 0 || l.Children < 0 || l.Depth < 0 ||
		l.MemoryBudget < 0 || l.Compiles < 0 || l.DeployRate < 0 || l.DeployBurst < 0 || l.FunctionBodySize < 0:
		return fmt.Errorf("limits may not be negative")
	case l.SearchRate < 0:
		return fmt.Errorf("limit %s: may not be negative", LimitSearchRate)
	case l.Retention < 0 && l.Retention != Forever, l.Retention > 0 && l.Retention < minRetention:
		return fmt.Errorf("limit %s: %v is not a retention: give at least 1s, or forever", LimitRetention, time.Duration(l.Retention))
	case l.Storage != 0 && l.Storage < 1<<20:
		return fmt.Errorf("limit %s: %d bytes is less than the 1 MiB an empty store occupies; give at least 1MiB", LimitStorage, l.Storage)
	}
	if l.MemoryBudget != 0 {
		// One running instance holds its memory cap and a few MiB of
		// overhead and buffers: the budget must fit one.
		mem := l.Memory
		if mem == 0 {
			mem = DefaultLimits().Memory
		}
		if need := int64(mem) + 16<<20; l.MemoryBudget < need {
			return fmt.Errorf("limit %s: %d bytes cannot hold one running instance (its %s of %d bytes and ~16 MiB of overhead and buffers): give at least %d", LimitMemoryBudget, l.MemoryBudget, LimitMemory, mem, need)
		}
	}
	for _, h := range l.HTTPAllow {
		if h == "" || strings.ContainsAny(h, "/: ") || strings.Contains(h[1:], "*") ||
			(strings.HasPrefix(h, "*") && h != "*" && !strings.HasPrefix(h, "*.")) {
			return fmt.Errorf("limit %s: %q is not a host pattern: use a host name, *.example.com for its subdomains, or * for any", LimitHTTPAllow, h)
		}
	}
	for _, r := range l.HTTPAllowRanges {
		if _, err := ParseAddrRange(r); err != nil {
			return fmt.Errorf("limit %s: %q is not an address range: write a CIDR such as 10.1.0.0/16 or fd00::/8, or a single address", LimitHTTPAllowRanges, r)
		}
	}
	return nil
}

// HTTPRanges returns HTTPAllowRanges parsed; Validate has refused any that
// does not parse, and such a one is left out.
func (l Limits) HTTPRanges() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range l.HTTPAllowRanges {
		if p, err := ParseAddrRange(r); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ParseAddrRange reads a CIDR, or an address as the range of that one address.
// An IPv4-mapped range is written as the IPv4 range it maps, the form the
// host matches dialled addresses in.
func ParseAddrRange(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// AllowsHTTP reports whether host (a name or IP, no port) matches the
// allowlist.
func (l Limits) AllowsHTTP(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range l.HTTPAllow {
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "*."):
			if strings.HasSuffix(host, p[1:]) {
				return true
			}
		case strings.EqualFold(p, host):
			return true
		}
	}
	return false
}

// Duration is a time.Duration written in JSON as "10s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler; Forever is "forever".
func (d Duration) MarshalText() ([]byte, error) {
	if d == Forever {
		return []byte("forever"), nil
	}
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	if string(b) == "forever" {
		*d = Forever
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseSize parses a byte size: "1048576", "64KiB", "16MiB", "1GiB" (also
// KB/MB/GB, meaning the same powers of two, and K/M/G).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: write bytes, or a number with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}
