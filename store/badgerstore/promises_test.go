package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func TestCreatePromiseNew(t *testing.T) {
	d, _ := newDB(t)
	c := store.Create{
		ID:             "p1",
		Timeout:        t0 + 1000,
		Param:          store.Value{Headers: map[string]string{"h": "v"}, Data: []byte("in")},
		Tags:           map[string]string{"k": "v"},
		IdempotencyKey: "ikc",
	}
	p := create(t, d, c)
	want := store.Promise{
		ID: "p1", State: store.Pending, Param: c.Param, Timeout: t0 + 1000,
		IdempotencyKeyForCreate: "ikc", Tags: c.Tags, CreatedOn: t0,
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("created %+v\nwant %+v", p, want)
	}
	if got := get(t, d, "p1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v\nwant %+v", got, want)
	}
	_, err := d.GetPromise(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	_, _, err = d.CreatePromise(ctx, store.Create{Timeout: store.NoTimeout})
	wantErr(t, err, store.ErrInvalid)
}

func TestCreatePromiseIdempotency(t *testing.T) {
	type setup int
	const (
		pending setup = iota
		resolved
		timedOut // pending, past its timeout, not yet written so
	)
	tests := []struct {
		name      string
		setup     setup
		storedKey string
		key       string
		strict    bool
		wantErr   error
		wantState store.State
	}{
		{"same key", pending, "k", "k", false, nil, store.Pending},
		{"same key strict pending", pending, "k", "k", true, nil, store.Pending},
		{"other key", pending, "k", "x", false, store.ErrConflict, 0},
		{"no key", pending, "k", "", false, store.ErrConflict, 0},
		{"stored without key", pending, "", "", false, store.ErrConflict, 0},
		{"stored without key, key given", pending, "", "k", false, store.ErrConflict, 0},
		{"settled same key", resolved, "k", "k", false, nil, store.Resolved},
		{"settled same key strict", resolved, "k", "k", true, store.ErrConflict, 0},
		{"settled other key", resolved, "k", "x", false, store.ErrConflict, 0},
		{"timed out same key", timedOut, "k", "k", false, nil, store.RejectedTimedout},
		{"timed out same key strict", timedOut, "k", "k", true, store.ErrConflict, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, clk := newDB(t)
			orig := create(t, d, store.Create{ID: "p", Timeout: t0 + 100, IdempotencyKey: tt.storedKey, Param: store.Value{Data: []byte("a")}})
			switch tt.setup {
			case resolved:
				settle(t, d, store.Settle{ID: "p", State: store.Resolved}, "")
			case timedOut:
				clk.set(t0 + 100)
			}
			p, created, err := d.CreatePromise(ctx, store.Create{ID: "p", Timeout: t0 + 5000, IdempotencyKey: tt.key, Strict: tt.strict, Param: store.Value{Data: []byte("b")}})
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
				if want := `create promise "p"`; err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
					t.Fatalf("error %q does not name the promise", err)
				}
				return
			}
			if err != nil || created {
				t.Fatalf("CreatePromise = %v, %v; want the stored promise", created, err)
			}
			if p.State != tt.wantState || p.Timeout != orig.Timeout || string(p.Param.Data) != "a" {
				t.Fatalf("got %+v, want the stored promise in state %s", p, tt.wantState)
			}
		})
	}
}

func TestSettlePromise(t *testing.T) {
	type setup int
	const (
		pending setup = iota
		resolved
		timedOut        // pending past its timeout, not yet written so
		timedOutWritten // timed out and written so by Timeouts
	)
	tests := []struct {
		name        string
		setup       setup
		tags        map[string]string
		settle      store.Settle
		wantErr     error
		wantChanged bool
		wantState   store.State
	}{
		{"pending", pending, nil, store.Settle{State: store.Resolved, IdempotencyKey: "k"}, nil, true, store.Resolved},
		{"pending reject", pending, nil, store.Settle{State: store.Rejected}, nil, true, store.Rejected},
		{"pending cancel", pending, nil, store.Settle{State: store.RejectedCanceled}, nil, true, store.RejectedCanceled},
		{"invalid state pending", pending, nil, store.Settle{State: store.Pending}, store.ErrInvalid, false, 0},
		{"invalid state timed out", pending, nil, store.Settle{State: store.RejectedTimedout}, store.ErrInvalid, false, 0},

		{"settled same key same state", resolved, nil, store.Settle{State: store.Resolved, IdempotencyKey: "done"}, nil, false, store.Resolved},
		{"settled same key same state strict", resolved, nil, store.Settle{State: store.Resolved, IdempotencyKey: "done", Strict: true}, nil, false, store.Resolved},
		{"settled same key other state", resolved, nil, store.Settle{State: store.Rejected, IdempotencyKey: "done"}, nil, false, store.Resolved},
		{"settled same key other state strict", resolved, nil, store.Settle{State: store.Rejected, IdempotencyKey: "done", Strict: true}, store.ErrForbidden, false, 0},
		{"settled other key", resolved, nil, store.Settle{State: store.Resolved, IdempotencyKey: "x"}, store.ErrForbidden, false, 0},
		{"settled no key", resolved, nil, store.Settle{State: store.Resolved}, store.ErrForbidden, false, 0},

		{"timed out", timedOut, nil, store.Settle{State: store.Resolved, IdempotencyKey: "k"}, nil, false, store.RejectedTimedout},
		{"timed out strict", timedOut, nil, store.Settle{State: store.Resolved, IdempotencyKey: "k", Strict: true}, store.ErrForbidden, false, 0},
		{"timed out with timeout tag", timedOut, map[string]string{store.TimeoutTag: "true"}, store.Settle{State: store.Rejected}, nil, false, store.Resolved},
		{"timed out with timeout tag strict", timedOut, map[string]string{store.TimeoutTag: "true"}, store.Settle{State: store.Resolved, Strict: true}, store.ErrForbidden, false, 0},
		{"timed out written", timedOutWritten, nil, store.Settle{State: store.Rejected}, nil, false, store.RejectedTimedout},
		{"timed out written strict", timedOutWritten, nil, store.Settle{State: store.RejectedTimedout, Strict: true}, store.ErrInvalid, false, 0},
		{"timed out written strict resolve", timedOutWritten, nil, store.Settle{State: store.Resolved, Strict: true}, store.ErrForbidden, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, clk := newDB(t)
			create(t, d, store.Create{ID: "p", Timeout: t0 + 100, Tags: tt.tags})
			switch tt.setup {
			case resolved:
				clk.set(t0 + 10)
				settle(t, d, store.Settle{ID: "p", State: store.Resolved, IdempotencyKey: "done", Value: store.Value{Data: []byte("v")}}, "")
				clk.set(t0 + 20)
			case timedOut:
				clk.set(t0 + 100)
			case timedOutWritten:
				if _, _, _, err := d.Timeouts(ctx, t0+100, 10, "", 0); err != nil {
					t.Fatal(err)
				}
				clk.set(t0 + 200)
			}
			s := tt.settle
			s.ID = "p"
			s.Value = store.Value{Data: []byte("new")}
			r, err := d.SettlePromise(ctx, s, "w", t0+1000)
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
				if tt.setup == timedOut {
					// The timeout was written all the same: the timer is gone.
					if settled, _, _, _ := d.Timeouts(ctx, t0+1000, 10, "", 0); len(settled) != 0 {
						t.Fatalf("timer still fired after the timeout was written: %v", settled)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := r.Promise
			if r.Changed != tt.wantChanged || p.State != tt.wantState {
				t.Fatalf("got changed=%v state=%s, want %v %s", r.Changed, p.State, tt.wantChanged, tt.wantState)
			}
			switch {
			case tt.setup == pending:
				if p.CompletedOn != t0 || string(p.Value.Data) != "new" || p.IdempotencyKeyForComplete != s.IdempotencyKey {
					t.Fatalf("settled promise %+v", p)
				}
			case tt.setup == resolved:
				if p.CompletedOn != t0+10 || string(p.Value.Data) != "v" || p.IdempotencyKeyForComplete != "done" {
					t.Fatalf("stored promise changed: %+v", p)
				}
			default: // timed out
				if p.CompletedOn != t0+100 || p.Value.Data != nil || p.IdempotencyKeyForComplete != "" {
					t.Fatalf("timed-out promise %+v", p)
				}
			}
			if got := get(t, d, "p"); !reflect.DeepEqual(got, p) {
				t.Fatalf("read back %+v\nwant %+v", got, p)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		d, _ := newDB(t)
		_, err := d.SettlePromise(ctx, store.Settle{ID: "nope", State: store.Resolved}, "", 0)
		wantErr(t, err, store.ErrNotFound)
	})
}

func TestEffectiveTimeoutOnRead(t *testing.T) {
	d, clk := newDB(t)
	create(t, d, store.Create{ID: "a", Timeout: t0 + 100, Param: store.Value{Data: []byte("x")}})
	create(t, d, store.Create{ID: "b", Timeout: t0 + 100, Tags: map[string]string{store.TimeoutTag: "true"}})
	create(t, d, store.Create{ID: "c", Timeout: store.NoTimeout})
	clk.set(t0 + 99)
	if p := get(t, d, "a"); p.State != store.Pending {
		t.Fatalf("before timeout: %s", p.State)
	}
	clk.set(t0 + 100)
	for id, want := range map[string]store.State{"a": store.RejectedTimedout, "b": store.Resolved, "c": store.Pending} {
		p := get(t, d, id)
		if p.State != want {
			t.Errorf("%s reads %s, want %s", id, p.State, want)
		}
		if want != store.Pending && (p.CompletedOn != t0+100 || p.Value.Data != nil) {
			t.Errorf("%s reads %+v", id, p)
		}
	}
	page, _, err := d.SearchPromises(ctx, store.Query{States: []store.State{store.RejectedTimedout}})
	if err != nil || len(page) != 1 || page[0].ID != "a" {
		t.Fatalf("search timed out = %v, %v", page, err)
	}
}

func TestTimeouts(t *testing.T) {
	d, _ := newDB(t)
	create(t, d, store.Create{ID: "t300", Timeout: t0 + 300})
	create(t, d, store.Create{ID: "t100", Timeout: t0 + 100})
	create(t, d, store.Create{ID: "t200", Timeout: t0 + 200, Tags: map[string]string{store.TimeoutTag: "true"}})
	create(t, d, store.Create{ID: "settled", Timeout: t0 + 150})
	create(t, d, store.Create{ID: "never", Timeout: store.NoTimeout})
	settle(t, d, store.Settle{ID: "settled", State: store.Resolved}, "")

	settled, _, next, err := d.Timeouts(ctx, t0+50, 10, "", 0)
	if err != nil || len(settled) != 0 || next != t0+100 {
		t.Fatalf("Timeouts(50) = %v, next %d, %v", settled, next, err)
	}
	settled, _, next, err = d.Timeouts(ctx, t0+250, 1, "", 0)
	if err != nil || len(settled) != 1 || settled[0].ID != "t100" || next != t0+200 {
		t.Fatalf("Timeouts(250, max 1) = %v, next %d, %v", settled, next, err)
	}
	if p := settled[0]; p.State != store.RejectedTimedout || p.CompletedOn != t0+100 {
		t.Fatalf("fired %+v", p)
	}
	settled, _, next, err = d.Timeouts(ctx, t0+250, 10, "", 0)
	if err != nil || len(settled) != 1 || settled[0].ID != "t200" || settled[0].State != store.Resolved || next != t0+300 {
		t.Fatalf("Timeouts(250) = %v, next %d, %v", settled, next, err)
	}
	settled, _, next, err = d.Timeouts(ctx, t0+1000, 10, "", 0)
	if err != nil || len(settled) != 1 || settled[0].ID != "t300" || next != 0 {
		t.Fatalf("Timeouts(1000) = %v, next %d, %v", settled, next, err)
	}
	if p := get(t, d, "t100"); p.State != store.RejectedTimedout || p.CompletedOn != t0+100 {
		t.Fatalf("stored %+v", p)
	}
	if p := get(t, d, "settled"); p.State != store.Resolved {
		t.Fatalf("settled promise timed out: %+v", p)
	}
}

func TestSearchPromises(t *testing.T) {
	d, _ := newDB(t)
	ids := []string{"a.1", "a.10", "a.2", "b.1", "b.2", "ab", "x*y"}
	for i, id := range ids {
		tags := map[string]string{"parity": fmt.Sprint(i % 2)}
		create(t, d, store.Create{ID: id, Timeout: store.NoTimeout, Tags: tags})
	}
	settle(t, d, store.Settle{ID: "a.2", State: store.Resolved}, "")
	settle(t, d, store.Settle{ID: "b.1", State: store.RejectedCanceled}, "")
	settle(t, d, store.Settle{ID: "b.2", State: store.Rejected}, "")

	rejected := []store.State{store.Rejected, store.RejectedCanceled, store.RejectedTimedout}
	tests := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{}, []string{"a.1", "a.10", "a.2", "ab", "b.1", "b.2", "x*y"}},
		{store.Query{IDGlob: "*"}, []string{"a.1", "a.10", "a.2", "ab", "b.1", "b.2", "x*y"}},
		{store.Query{IDGlob: "a.*"}, []string{"a.1", "a.10", "a.2"}},
		{store.Query{IDGlob: "a*"}, []string{"a.1", "a.10", "a.2", "ab"}},
		{store.Query{IDGlob: "*.1"}, []string{"a.1", "b.1"}},
		{store.Query{IDGlob: "*1*"}, []string{"a.1", "a.10", "b.1"}},
		{store.Query{IDGlob: "a*1"}, []string{"a.1"}},
		{store.Query{IDGlob: "b.1"}, []string{"b.1"}},
		{store.Query{IDGlob: "x*"}, []string{"x*y"}},
		{store.Query{IDGlob: "zzz*"}, nil},
		{store.Query{States: []store.State{store.Pending}}, []string{"a.1", "a.10", "ab", "x*y"}},
		{store.Query{States: []store.State{store.Resolved}}, []string{"a.2"}},
		{store.Query{States: rejected}, []string{"b.1", "b.2"}},
		{store.Query{IDGlob: "b*", States: []store.State{store.RejectedCanceled}}, []string{"b.1"}},
		{store.Query{Tags: map[string]string{"parity": "1"}}, []string{"a.10", "ab", "b.1"}},
		{store.Query{Tags: map[string]string{"parity": "1", "other": "x"}}, nil},
		{store.Query{IDGlob: "a*", Tags: map[string]string{"parity": "0"}, States: []store.State{store.Pending}}, []string{"a.1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.q), func(t *testing.T) {
			page, cursor, err := d.SearchPromises(ctx, tt.q)
			if err != nil || cursor != "" {
				t.Fatalf("search: cursor %q, %v", cursor, err)
			}
			var got []string
			for _, p := range page {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, _, err := d.SearchPromises(ctx, store.Query{Cursor: "!!"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("malformed cursor: %v", err)
	}
}

func TestSearchPaging(t *testing.T) {
	d, _ := newDB(t)
	const n = 253
	var want []string
	for i := range n {
		id := fmt.Sprintf("p%04d", i)
		want = append(want, id)
		create(t, d, store.Create{ID: id, Timeout: store.NoTimeout})
	}
	create(t, d, store.Create{ID: "q", Timeout: store.NoTimeout}) // outside the glob

	for _, limit := range []int{0, 1, 7, 100, 253, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			pageSize := limit
			if limit == 0 || limit > 100 {
				pageSize = 100
			}
			var got []string
			q := store.Query{IDGlob: "p*", Limit: limit}
			for pages := 1; ; pages++ {
				page, cursor, err := d.SearchPromises(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > pageSize || (cursor != "" && len(page) != pageSize) {
					t.Fatalf("page %d has %d items, cursor %q", pages, len(page), cursor)
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
				t.Fatalf("paged through %d ids, want %d in order", len(got), len(want))
			}
		})
	}
}
