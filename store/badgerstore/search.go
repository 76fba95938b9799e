package badgerstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/reprise-wasm/reprise/store"
)

// DefaultSearchScan is how many promise ids one page of a search examines at
// most (Options.SearchScan): past it, the page ends with what it found and a
// cursor to go on from, so no single request does unbounded work however
// many promises a tenant holds and however few its filters match.
const DefaultSearchScan = 10_000

// SearchPromises returns the promises that match q, in id order, and the
// cursor of the next page ("" on the last one). The cursor is the last id
// examined, base64-encoded: the next page resumes after it. A page holds at
// most q.Limit promises and examines at most Options.SearchScan ids, so a
// page may hold fewer than q.Limit (even none) before the last one.
//
// A search reads a snapshot of its own (a Badger read transaction) outside
// the committer: it sees every write acknowledged before it began, and a
// slow one delays no other operation.
func (d *DB) SearchPromises(ctx context.Context, q store.Query) (page []store.Promise, cursor string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	pattern := q.IDGlob
	if pattern == "" {
		pattern = "*"
	}
	g := compileGlob(pattern)
	var states uint32 // bit set of store.State
	for _, s := range q.States {
		states |= 1 << s
	}
	// A search for pending promises alone reads the index of those stored
	// pending, in the same id order: its cost follows the live promises,
	// not the store's history. (A pending promise past its timeout reads
	// as timed out, below, as it does in a full scan.)
	index := byte(kindPromise)
	if states == 1<<store.Pending && d.pendingIndexed.Load() {
		index = kindPendingIdx
	}
	// Only ids starting with the glob's literal prefix can match: scan those.
	prefix := key(index, g.prefix())
	start := prefix
	if q.Cursor != "" {
		last, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("search promises: %w: malformed cursor", store.ErrInvalid)
		}
		if after := append(key(index, string(last)), 0); string(after) > string(start) {
			start = after // the first key after it
		}
	}
	now := d.nowMs()
	err = d.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		scanned := 0
		for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			id := item.Key()[1:]
			if scanned == d.searchScan {
				// Bounded work: the next page goes on after the last id
				// examined, which is not this one.
				return nil
			}
			scanned++
			if scanned == d.searchScan {
				cursor = base64.RawURLEncoding.EncodeToString(id)
			}
			if !g.match(id) {
				continue
			}
			if index != kindPromise {
				if item, err = txn.Get(key(kindPromise, string(id))); err != nil {
					return fmt.Errorf("pending promise %q: %w", id, err)
				}
			}
			var p store.Promise
			err := item.Value(func(v []byte) (err error) {
				p, err = decodePromise(string(id), v)
				return err
			})
			if err != nil {
				return err
			}
			p = p.Effective(now)
			if states != 0 && states&(1<<p.State) == 0 || !hasTags(p.Tags, q.Tags) {
				continue
			}
			if len(page) == limit {
				// One more match exists: the page is not the last.
				cursor = base64.RawURLEncoding.EncodeToString([]byte(page[limit-1].ID))
				return nil
			}
			page = append(page, p)
		}
		// The bound was reached on the last id there is: nothing follows.
		cursor = ""
		return ctx.Err()
	})
	if err != nil {
		return nil, "", fmt.Errorf("search promises: %w", err)
	}
	return page, cursor, nil
}

func hasTags(tags, want map[string]string) bool {
	for k, v := range want {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// glob is a compiled id pattern, where * matches any run of bytes and every
// other byte matches itself. Matching takes time linear in the id and the
// pattern: the literal runs between stars are found left to right, each at
// its leftmost place (which is always right when * is the only wildcard),
// with Knuth–Morris–Pratt, which never looks at a byte of the id twice
// within a run. A backtracking matcher is O(len(pattern)·len(id)), which a
// pattern like "*aaa…ab" makes 40,000 steps an id.
type glob struct {
	parts []string // the literal runs; len(parts)-1 stars separate them
	fail  [][]int  // KMP failure function of each inner run
}

func compileGlob(pattern string) glob {
	g := glob{parts: strings.Split(pattern, "*")}
	if n := len(g.parts); n > 2 {
		g.fail = make([][]int, n)
		for i := 1; i < n-1; i++ {
			g.fail[i] = failure(g.parts[i])
		}
	}
	return g
}

// prefix is what every matching id starts with.
func (g glob) prefix() string { return g.parts[0] }

func (g glob) match(s []byte) bool {
	n := len(g.parts)
	if n == 1 {
		return string(s) == g.parts[0]
	}
	first, last := g.parts[0], g.parts[n-1]
	if len(s) < len(first)+len(last) || string(s[:len(first)]) != first || string(s[len(s)-len(last):]) != last {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for i := 1; i < n-1; i++ {
		at := kmpIndex(rest, g.parts[i], g.fail[i])
		if at < 0 {
			return false
		}
		rest = rest[at+len(g.parts[i]):]
	}
	return true
}

// failure is the KMP failure function of p: f[i] is the length of the
// longest proper prefix of p[:i+1] that is also its suffix.
func failure(p string) []int {
	f := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = f[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		f[i] = k
	}
	return f
}

// kmpIndex is the index of the first p in s, or -1, in O(len(s)+len(p)).
func kmpIndex(s []byte, p string, f []int) int {
	if len(p) == 0 {
		return 0
	}
	for i, k := 0, 0; i < len(s); i++ {
		for k > 0 && s[i] != p[k] {
			k = f[k-1]
		}
		if s[i] == p[k] {
			k++
		}
		if k == len(p) {
			return i - len(p) + 1
		}
	}
	return -1
}
