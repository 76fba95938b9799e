package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// A guest's outbound request is checked twice: its host name against the
// allowlist (HTTPConfig.Allow), then every address that name resolves to,
// at the moment of dialling, against the internal ranges below. The
// connection is made to the address that was checked, never to the name
// again, so a name that resolves to an internal address — or rebinds to one
// between a check and a connect — reaches nothing the guest may not reach.

// addrRule is an internal range and the rule a guest's error names.
type addrRule struct {
	prefix netip.Prefix
	rule   string
}

// internalRanges are the addresses guests may not dial unless the host
// allows the range (HTTPConfig.AllowRanges): this machine, its networks and
// the cloud metadata service among them. IPv4-mapped IPv6 addresses are
// unmapped before they are matched; NAT64 and 6to4 addresses are matched by
// the IPv4 address they embed.
var internalRanges = func() []addrRule {
	var out []addrRule
	for _, r := range []struct{ cidr, rule string }{
		{"0.0.0.0/8", "an unspecified (this-network) address"},
		{"10.0.0.0/8", "a private (RFC 1918) address"},
		{"100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address"},
		{"127.0.0.0/8", "a loopback address"},
		{"169.254.0.0/16", "a link-local address (the cloud metadata service among them)"},
		{"172.16.0.0/12", "a private (RFC 1918) address"},
		{"192.0.0.0/24", "an IETF protocol assignment address"},
		{"192.168.0.0/16", "a private (RFC 1918) address"},
		{"198.18.0.0/15", "a benchmarking (RFC 2544) address"},
		{"224.0.0.0/4", "a multicast address"},
		{"240.0.0.0/4", "a reserved or broadcast address"},
		{"::/128", "an unspecified address"},
		{"::1/128", "a loopback address"},
		{"::/96", "an IPv4-compatible address"},
		{"64:ff9b:1::/48", "a local-use NAT64 address"},
		{"100::/64", "a discard-only address"},
		{"fc00::/7", "a unique-local address"},
		{"fe80::/10", "a link-local address"},
		{"fec0::/10", "a site-local address"},
		{"ff00::/8", "a multicast address"},
	} {
		out = append(out, addrRule{netip.MustParsePrefix(r.cidr), r.rule})
	}
	return out
}()

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// internalRange returns the internal range a is in and its rule; ok is
// false for an address guests may reach.
func internalRange(a netip.Addr) (r addrRule, ok bool) {
	a = a.WithZone("").Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixTo4.Contains(a):
			a = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
	}
	for _, r := range internalRanges {
		if r.prefix.Contains(a) {
			return r, true
		}
	}
	return addrRule{}, false
}

// RefusedAddressError is a request refused because the address it would
// connect to is internal. Its text is what the guest sees: it names the
// rule and the setting that lifts it, and neither the address nor anything
// else of the server's own.
type RefusedAddressError struct {
	Host    string // as the guest wrote it
	Range   netip.Prefix
	Rule    string // "a loopback address", ...
	Setting string // what allows a range, e.g. "the tenant limit http_allow_ranges"
}

func (e *RefusedAddressError) Error() string {
	verb := "resolves to"
	if _, err := netip.ParseAddr(e.Host); err == nil || e.Host == dialledHost {
		verb = "is"
	}
	return fmt.Sprintf("refused: %s %s %s (%s), which functions may not reach unless it is allowed by %s",
		e.Host, verb, e.Rule, e.Range, e.Setting)
}

// dialledHost stands for the host in a refusal by the socket's own check.
const dialledHost = "the address dialled"

// dialGuard dials only addresses outside the internal ranges, or inside a
// range the host allows.
type dialGuard struct {
	allow   []netip.Prefix
	setting string
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	dialer  net.Dialer
}

func newDialGuard(c *HTTPConfig) *dialGuard {
	g := &dialGuard{allow: c.AllowRanges, setting: c.RangesSetting, resolve: c.Resolve}
	if g.setting == "" {
		g.setting = "the host's allowed address ranges"
	}
	if g.resolve == nil {
		g.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	g.dialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return g
}

// refused returns why a may not be dialled for host, nil if it may.
func (g *dialGuard) refused(host string, a netip.Addr) error {
	r, internal := internalRange(a)
	if !internal {
		return nil
	}
	plain := a.WithZone("").Unmap()
	for _, p := range g.allow {
		if p.Contains(plain) {
			return nil
		}
	}
	return &RefusedAddressError{Host: host, Range: r.prefix, Rule: r.rule, Setting: g.setting}
}

// dialContext resolves addr's host, drops the addresses it may not dial,
// and connects to the first of the others that answers.
func (g *dialGuard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.resolve(ctx, host); err != nil {
		return nil, resolveError(host, err)
	}
	var first error
	var ok []netip.Addr
	for _, a := range addrs {
		if err := g.refused(host, a); err != nil {
			first = cmpErr(first, err)
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return nil, cmpErr(first, fmt.Errorf("%s has no address", host))
	}
	for _, a := range ok {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		first = cmpErr(first, err)
	}
	return nil, first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// control checks the address the socket is about to connect to: the last
// word, whatever path led to the dial.
func (g *dialGuard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: cannot check the address dialled: %w", err)
	}
	return g.refused(dialledHost, ap.Addr())
}

// resolveError says a name did not resolve without saying which resolver
// was asked (a net.DNSError names the server's resolver address).
func resolveError(host string, err error) error {
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return fmt.Errorf("%s does not resolve (no such host)", host)
	case errors.As(err, &de) && de.IsTimeout:
		return fmt.Errorf("resolving %s timed out", host)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("resolving %s failed", host)
}

// newHTTPClient is the client guests' requests go through: no proxy from
// the environment (a proxy would dial on the guest's behalf, past the
// guard), every connection through the guard, and redirects checked
// against the allowlist by name (and by address when they dial).
func newHTTPClient(c *HTTPConfig) *http.Client {
	g := newDialGuard(c)
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            g.dialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: tr, Timeout: c.Timeout, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if c.Allow != nil && !c.Allow(r.URL.Hostname()) {
			return fmt.Errorf("redirect to %s is not allowed for this function (not in the allowlist)", r.URL.Hostname())
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
}
