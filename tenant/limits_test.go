package tenant

import (
	"strings"
	"testing"
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
