package names_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/names"
)

func TestCheck(t *testing.T) {
	const (
		length = "a name has 1 to"
		dots   = `"." and ".." are not names`
		chars  = "names may not contain"
	)
	for _, tc := range []struct {
		name string
		want string // "" accepts; else a part of the reason
	}{
		{"hello", ""},
		{"a", ""},
		{strings.Repeat("a", names.MaxLen), ""},
		{"b37e2776806f771f9f6ebfb3.1", ""}, // a derived child id
		{"idem-0123456789abcdef", ""},
		{"...", ""},     // only "." and ".." name directories
		{".hidden", ""}, // a leading dot is a name
		{"a..b", ""},
		{"ünïcödé-名前", ""},
		{"a:b@c?d#e%f", ""}, // escaped in paths; harmless in keys and logs
		{"", length},
		{strings.Repeat("a", names.MaxLen+1), length},
		{strings.Repeat("é", names.MaxLen/2+1), length}, // bytes, not characters
		{".", dots},
		{"..", dots},
		{"a b", chars},
		{" a", chars},
		{"a\tb", chars},
		{"a\nb", chars},
		{"a\x00b", chars},
		{"a\x1fb", chars},
		{"a\x7fb", chars},
		{"a/b", chars},
		{"../etc", chars},
		{`a\b`, chars},
		{"a*", chars},
		{"a\xffb", chars},   // invalid UTF-8
		{"a\xc3", chars},    // truncated UTF-8
		{"a\ufffdb", chars}, // what invalid UTF-8 decodes to
		{"a\u00a0b", ""},    // a no-break space is not ASCII space: accepted, as before
	} {
		err := names.Check(tc.name)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		var ne *names.Error
		if !errors.Is(err, names.ErrInvalid) || !errors.As(err, &ne) || !strings.Contains(ne.Reason, tc.want) || ne.Name != tc.name {
			t.Errorf("Check(%q) = %v, want an *Error wrapping ErrInvalid whose reason says %q", tc.name, err, tc.want)
		}
	}
}

func TestErrorQuotesTheNameUnlessItIsTooLong(t *testing.T) {
	if got, want := names.Check("a/b").Error(), `bad name: "a/b": names may not contain spaces, control characters, invalid UTF-8, '/', '\' or '*'`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := names.Check("").Error(), `bad name: "": a name has 1 to 256 bytes, this has 0`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	long := strings.Repeat("x", 10_000)
	if got := names.Check(long).Error(); strings.Contains(got, "xxxx") || !strings.Contains(got, "this has 10000") {
		t.Errorf("a long name's error: %.100s", got)
	}
}

func TestNewIDIsAValidFreshID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := names.NewID()
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("NewID() = %q, want 24 lower-case hex digits", id)
		}
		if err := names.Check(id); err != nil {
			t.Fatalf("NewID() = %q, refused by Check: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
