package tenant

import (
	"fmt"
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
	// HTTPAllow lists the hosts guests may reach over HTTP: names,
	// "*.example.com" for subdomains, "*" for any. Empty: none.
	HTTPAllow []string `json:"http_allow,omitempty"`
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
	}
}

// WithDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.StepTime == 0 {
		l.StepTime = d.StepTime
	}
	if l.Concurrency == 0 {
		l.Concurrency = d.Concurrency
	}
	if l.Rate == 0 {
		l.Rate = d.Rate
	}
	if l.Burst == 0 {
		l.Burst = max(d.Burst, int(l.Rate))
	}
	if l.ModuleSize == 0 {
		l.ModuleSize = d.ModuleSize
	}
	if l.PayloadSize == 0 {
		l.PayloadSize = d.PayloadSize
	}
	if l.JournalLength == 0 {
		l.JournalLength = d.JournalLength
	}
	if l.SearchRate == 0 {
		l.SearchRate = d.SearchRate
	}
	if l.Storage == 0 {
		l.Storage = d.Storage
	}
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
		l.ModuleSize < 0 || l.PayloadSize < 0 || l.JournalLength < 0 || l.Storage < 0:
		return fmt.Errorf("limits may not be negative")
	case l.SearchRate < 0:
		return fmt.Errorf("limit %s: may not be negative", LimitSearchRate)
	case l.Storage != 0 && l.Storage < 1<<20:
		return fmt.Errorf("limit %s: %d bytes is less than the 1 MiB an empty store occupies; give at least 1MiB", LimitStorage, l.Storage)
	}
	for _, h := range l.HTTPAllow {
		if h == "" || strings.ContainsAny(h, "/: ") || strings.Contains(h[1:], "*") ||
			(strings.HasPrefix(h, "*") && h != "*" && !strings.HasPrefix(h, "*.")) {
			return fmt.Errorf("limit %s: %q is not a host pattern: use a host name, *.example.com for its subdomains, or * for any", LimitHTTPAllow, h)
		}
	}
	return nil
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

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
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
