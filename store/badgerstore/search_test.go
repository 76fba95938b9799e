package badgerstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "abc", true},
		{"a", "a", true}, {"a", "b", false}, {"a*", "abc", true}, {"*c", "abc", true},
		{"*b*", "abc", true}, {"a*c", "abc", true}, {"a*c", "abcd", false},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false}, {"**", "x", true},
		{"*aab", "aaaab", true}, {"a*a*a", "aa", false}, {"ab*ba", "aba", false},
		{"*abab*", "aabababa", true}, {"*aabaab*", "aabaaabaab", true}, {"a**b", "ab", true},
	}
	for _, tt := range tests {
		if got := compileGlob(tt.pattern).match([]byte(tt.s)); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// backtrack is the textbook matcher (backtracking to the last star), the
// reference the linear one must agree with.
func backtrack(pattern, s string) bool {
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func TestMatchGlobAgreesWithBacktracking(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(alphabet string, n int) string {
		b := make([]byte, r.IntN(n+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 200_000 {
		p, s := word("ab*", 8), word("ab", 12)
		if got, want := compileGlob(p).match([]byte(s)), backtrack(p, s); got != want {
			t.Fatalf("match(%q, %q) = %v, the backtracking matcher says %v", p, s, got, want)
		}
	}
}

// BenchmarkMatchGlobPathological is the pattern of finding 11: "*", 150
// a's and "b", against 256-byte ids of a's, which cost the backtracking
// matcher one comparison per pattern byte per id byte.
func BenchmarkMatchGlobPathological(b *testing.B) {
	g := compileGlob("*" + strings.Repeat("a", 150) + "b*") // the trailing star makes it search
	id := []byte(strings.Repeat("a", 256))
	for b.Loop() {
		if g.match(id) {
			b.Fatal("matched")
		}
	}
}

func BenchmarkBacktrackPathological(b *testing.B) {
	pattern, id := "*"+strings.Repeat("a", 150)+"b", strings.Repeat("a", 256)
	for b.Loop() {
		if backtrack(pattern, id) {
			b.Fatal("matched")
		}
	}
}

// TestSearchScanBound: a page examines at most SearchScan ids and ends with
// a cursor to go on from; following it finds every match exactly once.
func TestSearchScanBound(t *testing.T) {
	c := &clock{}
	c.set(t0)
	d, err := Open(t.TempDir(), Options{Logger: quietLogger(), Now: c.Now, SearchScan: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var want []string
	for i := range 95 {
		id := fmt.Sprintf("p%03d", i)
		tags := map[string]string{}
		if i%7 == 0 {
			tags["seven"] = "yes"
			want = append(want, id)
		}
		create(t, d, store.Create{ID: id, Timeout: store.NoTimeout, Tags: tags})
	}
	for _, limit := range []int{1, 2, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			q := store.Query{IDGlob: "p*", Tags: map[string]string{"seven": "yes"}, Limit: limit}
			var got []string
			pages := 0
			for {
				page, cursor, err := d.SearchPromises(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page) > limit {
					t.Fatalf("page of %d, limit %d", len(page), limit)
				}
				for _, p := range page {
					got = append(got, p.ID)
				}
				if cursor == "" {
					break
				}
				q.Cursor = cursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			// 95 ids, 10 a page: at least 10 pages, whatever the limit.
			if pages < 10 {
				t.Fatalf("%d pages: more than 10 ids examined in one", pages)
			}
		})
	}
}

// TestSearchRunsOutsideTheCommitter: a search answers while the committer
// is busy with another operation, so a slow search cannot hold up writes.
func TestSearchRunsOutsideTheCommitter(t *testing.T) {
	d, _ := newDB(t)
	create(t, d, store.Create{ID: "a", Timeout: store.NoTimeout})
	running, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- d.do(ctx, func(*tx) error {
			close(running)
			<-release
			return nil
		})
	}()
	<-running
	page, _, err := d.SearchPromises(ctx, store.Query{})
	close(release)
	if err != nil || len(page) != 1 || page[0].ID != "a" {
		t.Fatalf("search while the committer is busy: %v, %v", page, err)
	}
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
}
