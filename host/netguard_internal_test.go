package host

import (
	"net/netip"
	"strings"
	"testing"
)

// The ranges guests may not dial, by the rule each names. (Only loopback is
// dialled by the tests; the others are checked here, without traffic.)
func TestInternalRangesAreRecognised(t *testing.T) {
	for addr, rule := range map[string]string{
		"10.1.2.3":               "private",
		"172.16.5.4":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"169.254.169.254":        "link-local",
		"100.64.0.1":             "carrier-grade NAT",
		"100.127.255.254":        "carrier-grade NAT",
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"0.0.0.0":                "unspecified",
		"224.0.0.251":            "multicast",
		"255.255.255.255":        "broadcast",
		"::":                     "unspecified",
		"::1":                    "loopback",
		"fc00::1":                "unique-local",
		"fd12:3456::1":           "unique-local",
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"ff02::1":                "multicast",
		"::ffff:10.0.0.1":        "private",
		"::ffff:169.254.169.254": "link-local",
		"::ffff:127.0.0.1":       "loopback",
		"64:ff9b::a9fe:a9fe":     "link-local", // NAT64 of 169.254.169.254
		"2002:7f00:1::":          "loopback",   // 6to4 of 127.0.0.1
	} {
		r, ok := internalRange(netip.MustParseAddr(addr))
		if !ok || !strings.Contains(r.rule, rule) {
			t.Errorf("%s: internal %v, rule %q; want %q", addr, ok, r.rule, rule)
		}
	}
	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "192.169.0.1", "2606:4700::1111", "64:ff9b::808:808"} {
		if r, ok := internalRange(netip.MustParseAddr(addr)); ok {
			t.Errorf("%s is public, but is taken for %s", addr, r.rule)
		}
	}
}

// An allowed range lifts the rule for the addresses in it, and for their
// IPv4-mapped forms; it lifts nothing else.
func TestAllowedRangesLiftTheRule(t *testing.T) {
	g := newDialGuard(&HTTPConfig{AllowRanges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, RangesSetting: "the tenant limit http_allow_ranges"})
	for addr, refused := range map[string]bool{"10.0.0.7": false, "::ffff:10.0.0.7": false, "10.0.1.7": true, "127.0.0.1": true, "8.8.8.8": false} {
		err := g.refused("h", netip.MustParseAddr(addr))
		if (err != nil) != refused {
			t.Errorf("%s: refused = %v, want %v", addr, err, refused)
		}
		if err != nil && !strings.Contains(err.Error(), "http_allow_ranges") {
			t.Errorf("%s: %v does not name the setting that allows a range", addr, err)
		}
	}
}
