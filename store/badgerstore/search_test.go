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

// pendingSearchStore holds 300 settled promises and, among them, the
// pending ones of want (one of them past its timeout), with pages that
// examine at most 10 ids.
func pendingSearchStore(t *testing.T, dir string, c *clock) (d *DB, want []string) {
	d, err := Open(dir, Options{Logger: quietLogger(), Now: c.Now, SearchScan: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		id := fmt.Sprintf("p%03d", i)
		switch {
		case i%100 == 50:
			create(t, d, store.Create{ID: id, Timeout: store.NoTimeout})
			want = append(want, id)
		case i == 120:
			create(t, d, store.Create{ID: id, Timeout: c.now() + 10}) // reads as timed out below
		default:
			create(t, d, store.Create{ID: id, Timeout: store.NoTimeout})
			settle(t, d, store.Settle{ID: id, State: store.Resolved}, "")
		}
	}
	c.set(c.now() + 20)
	return d, want
}

// searchAll follows a search's cursors to its end.
func searchAll(t *testing.T, d *DB, q store.Query) (ids []string, pages int) {
	t.Helper()
	for {
		page, cursor, err := d.SearchPromises(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if cursor == "" {
			return ids, pages
		}
		q.Cursor = cursor
	}
}

// A search for pending promises reads the pending ones only, so a page's
// bound on ids examined is spent on live promises, not on history: here
// one page finds all three among 300, and one past its timeout (stored
// pending) reads as timed out and is left out.
func TestSearchForPendingReadsOnlyPendingPromises(t *testing.T) {
	c := &clock{}
	c.set(t0)
	d, want := pendingSearchStore(t, t.TempDir(), c)
	defer d.Close()
	got, pages := searchAll(t, d, store.Query{States: []store.State{store.Pending}})
	if !slices.Equal(got, want) || pages != 1 {
		t.Fatalf("pending search: %v in %d pages, want %v in one", got, pages, want)
	}
	got, _ = searchAll(t, d, store.Query{IDGlob: "p1*", States: []store.State{store.Pending}})
	if !slices.Equal(got, want[1:2]) {
		t.Fatalf("pending search p1*: %v, want %v", got, want[1:2])
	}
	if _, err := d.CountByScan(ctx); err != nil {
		t.Fatal(err)
	}
}

// A store written before the pending index existed gets it when it opens:
// the same search then finds the same promises.
func TestStoreOfAnEarlierVersionGetsThePendingIndex(t *testing.T) {
	c := &clock{}
	c.set(t0)
	dir := t.TempDir()
	d, want := pendingSearchStore(t, dir, c)
	err := d.bdb.DropPrefix([]byte{kindPendingIdx}, schemaKey)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = Open(dir, Options{Logger: quietLogger(), Now: c.Now, SearchScan: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := d.schema(); err != nil || v != schemaVersion {
		t.Fatalf("schema after open: %d, %v; want %d", v, err, schemaVersion)
	}
	if got, pages := searchAll(t, d, store.Query{States: []store.State{store.Pending}}); !slices.Equal(got, want) || pages != 1 {
		t.Fatalf("pending search after the upgrade: %v in %d pages, want %v in one", got, pages, want)
	}
	if _, err := d.CountByScan(ctx); err != nil {
		t.Fatal(err)
	}
}
