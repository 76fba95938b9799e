package tenant

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHTTPAllowRangesParseAndValidate(t *testing.T) {
	l := Limits{HTTPAllowRanges: []string{"10.1.0.0/16", "127.0.0.1", "fd00::/8", "::ffff:192.168.0.0/112", "10.1.2.3/8"}}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range l.HTTPRanges() {
		got = append(got, p.String())
	}
	if want := "10.1.0.0/16 127.0.0.1/32 fd00::/8 192.168.0.0/16 10.0.0.0/8"; strings.Join(got, " ") != want {
		t.Fatalf("ranges %v, want %s", got, want)
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "fe80::1%eth0", ""} {
		err := Limits{HTTPAllowRanges: []string{bad}}.Validate()
		if err == nil || !strings.Contains(err.Error(), LimitHTTPAllowRanges) {
			t.Errorf("range %q: %v, want an error naming %s", bad, err, LimitHTTPAllowRanges)
		}
	}
}

// TestRetentionParsesValidatesAndRoundTrips covers the retention limit:
// days, durations and forever parse, what is too short or malformed is
// refused saying what to write, forever survives JSON, and zero means the
// default of 7 days.
func TestRetentionParsesValidatesAndRoundTrips(t *testing.T) {
	for in, want := range map[string]Duration{"30d": Duration(30 * 24 * time.Hour), "72h": Duration(72 * time.Hour), "forever": Forever, "0": Forever, " Forever ": Forever, "1s": Duration(time.Second)} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "500ms", "0d", "1.5d"} {
		if _, err := ParseRetention(in); err == nil || !strings.Contains(err.Error(), "forever") {
			t.Errorf("ParseRetention(%q) = %v, want an error saying what to write", in, err)
		}
	}
	if err := (Limits{Retention: Duration(time.Millisecond)}).Validate(); err == nil || !strings.Contains(err.Error(), LimitRetention) {
		t.Errorf("a 1ms retention validates: %v", err)
	}
	if err := (Limits{Retention: -5}).Validate(); err == nil {
		t.Error("a negative retention other than forever validates")
	}
	b, err := json.Marshal(Limits{Retention: Forever})
	if err != nil || string(b) != `{"retention":"forever"}` {
		t.Fatalf("forever marshals as %s, %v", b, err)
	}
	var l Limits
	if err := json.Unmarshal(b, &l); err != nil || l.Retention != Forever || l.Validate() != nil {
		t.Fatalf("forever reads back as %v, %v", l.Retention, err)
	}
	if got := (Limits{}).WithDefaults().Retention; got != Duration(7*24*time.Hour) {
		t.Errorf("default retention %v, want 7 days", time.Duration(got))
	}
	if got := (Limits{Retention: Forever}).WithDefaults().Retention; got != Forever {
		t.Errorf("forever with defaults is %v", time.Duration(got))
	}
}
