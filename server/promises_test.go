package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/wire"
)

// TestPromiseAPI checks every rule of PROMISE-API.md. The rows run in order
// on one server: each names the rule it checks, and later rows build on the
// promises earlier ones made.
func TestPromiseAPI(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	far := time.Now().Add(time.Hour).UnixMilli()
	past := time.Now().Add(-time.Second).UnixMilli()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	create := func(id string, timeout int64, extra string) string {
		return fmt.Sprintf(`{"id":%q,"timeout":%d%s}`, id, timeout, extra)
	}
	key := func(k string) map[string]string { return map[string]string{"idempotency-key": k} }
	keyStrict := func(k string, strict bool) map[string]string {
		h := map[string]string{"strict": fmt.Sprint(strict)}
		if k != "" {
			h["idempotency-key"] = k
		}
		return h
	}
	settle := func(state, value string) string {
		return fmt.Sprintf(`{"state":%q,"value":{"headers":{"h":"v"},"data":%q}}`, state, b64(value))
	}

	type want struct {
		status int
		fields map[string]any // top-level fields of the promise, compared as JSON
	}
	rows := []struct {
		rule string
		call call
		want want
	}{
		// Create.
		{"create new id: 201 pending with its create key",
			call{"POST", "/v1/promises", key("ck"), create("p1", far, `,"param":{"headers":{"a":"b"},"data":"`+b64("in")+`"},"tags":{"t":"1"}`)},
			want{201, map[string]any{"id": "p1", "state": "PENDING", "idempotencyKeyForCreate": "ck", "timeout": far,
				"param": map[string]any{"headers": map[string]any{"a": "b"}, "data": b64("in")}, "tags": map[string]any{"t": "1"}}}},
		{"create existing, same key, not strict: 200 stored",
			call{"POST", "/v1/promises", key("ck"), create("p1", far, "")},
			want{200, map[string]any{"id": "p1", "state": "PENDING", "tags": map[string]any{"t": "1"}}}},
		{"create existing, same key, strict, pending: 200",
			call{"POST", "/v1/promises", keyStrict("ck", true), create("p1", far, "")},
			want{200, map[string]any{"state": "PENDING"}}},
		{"create existing, other key: 409",
			call{"POST", "/v1/promises", key("other"), create("p1", far, "")}, want{409, nil}},
		{"create existing, no key: 409",
			call{"POST", "/v1/promises", nil, create("p1", far, "")}, want{409, nil}},
		{"create new id without key: 201, no create key",
			call{"POST", "/v1/promises", nil, create("p2", far, "")},
			want{201, map[string]any{"id": "p2", "idempotencyKeyForCreate": nil}}},
		{"create existing, both keys absent: 409",
			call{"POST", "/v1/promises", nil, create("p2", far, "")}, want{409, nil}},

		// Settle.
		{"settle unknown id: 404",
			call{"PATCH", "/v1/promises/nope", key("sk"), settle("RESOLVED", "x")}, want{404, nil}},
		{"settle pending before timeout: 201 with state, value and complete key",
			call{"PATCH", "/v1/promises/p1", key("sk"), settle("RESOLVED", "out")},
			want{201, map[string]any{"state": "RESOLVED", "idempotencyKeyForComplete": "sk",
				"value": map[string]any{"headers": map[string]any{"h": "v"}, "data": b64("out")}}}},
		{"settle settled, same key, same state: 200 stored",
			call{"PATCH", "/v1/promises/p1", key("sk"), settle("RESOLVED", "other")},
			want{200, map[string]any{"state": "RESOLVED", "value": map[string]any{"headers": map[string]any{"h": "v"}, "data": b64("out")}}}},
		{"settle settled, same key, strict, same state: 200",
			call{"PATCH", "/v1/promises/p1", keyStrict("sk", true), settle("RESOLVED", "")},
			want{200, map[string]any{"state": "RESOLVED"}}},
		{"settle settled, same key, not strict, other state: 200 stored",
			call{"PATCH", "/v1/promises/p1", keyStrict("sk", false), settle("REJECTED", "")},
			want{200, map[string]any{"state": "RESOLVED"}}},
		{"settle settled, same key, strict, other state: 403",
			call{"PATCH", "/v1/promises/p1", keyStrict("sk", true), settle("REJECTED", "")}, want{403, nil}},
		{"settle settled, other key: 403",
			call{"PATCH", "/v1/promises/p1", key("zz"), settle("RESOLVED", "")}, want{403, nil}},
		{"settle settled, no key: 403",
			call{"PATCH", "/v1/promises/p1", nil, settle("RESOLVED", "")}, want{403, nil}},
		{"settle pending without key: 201, then a repeat without key: 403",
			call{"PATCH", "/v1/promises/p2", nil, settle("REJECTED_CANCELED", "c")},
			want{201, map[string]any{"state": "REJECTED_CANCELED", "idempotencyKeyForComplete": nil}}},
		{"(repeat) settle settled, both keys absent: 403",
			call{"PATCH", "/v1/promises/p2", nil, settle("REJECTED_CANCELED", "c")}, want{403, nil}},
		{"create existing settled, same key, not strict: 200",
			call{"POST", "/v1/promises", key("ck"), create("p1", far, "")}, want{200, map[string]any{"state": "RESOLVED"}}},
		{"create existing settled, same key, strict: 409",
			call{"POST", "/v1/promises", keyStrict("ck", true), create("p1", far, "")}, want{409, nil}},

		// Timeouts.
		{"create with a past timeout: 201, reads as timed out",
			call{"POST", "/v1/promises", key("t"), create("t1", past, "")}, want{201, map[string]any{"state": "REJECTED_TIMEDOUT"}}},
		{"read past timeout: REJECTED_TIMEDOUT",
			call{"GET", "/v1/promises/t1", nil, ""}, want{200, map[string]any{"state": "REJECTED_TIMEDOUT", "completedOn": past}}},
		{"settle timed out, strict: 403",
			call{"PATCH", "/v1/promises/t1", keyStrict("s", true), settle("RESOLVED", "")}, want{403, nil}},
		{"settle timed out, not strict: 200 with the timed-out promise",
			call{"PATCH", "/v1/promises/t1", keyStrict("s", false), settle("RESOLVED", "")},
			want{200, map[string]any{"state": "REJECTED_TIMEDOUT"}}},
		{"timeout with resonate:timeout tag reads RESOLVED",
			call{"POST", "/v1/promises", nil, create("t2", past, `,"tags":{"resonate:timeout":"true"}`)},
			want{201, map[string]any{"state": "RESOLVED"}}},
		{"read tagged past timeout: RESOLVED",
			call{"GET", "/v1/promises/t2", nil, ""}, want{200, map[string]any{"state": "RESOLVED"}}},
		{"settle tagged timed out, not strict: 200 RESOLVED",
			call{"PATCH", "/v1/promises/t2", nil, settle("REJECTED", "")}, want{200, map[string]any{"state": "RESOLVED"}}},

		// Reads.
		{"get unknown: 404", call{"GET", "/v1/promises/nope", nil, ""}, want{404, nil}},
		{"get: 200", call{"GET", "/v1/promises/p1", nil, ""}, want{200, map[string]any{"id": "p1", "state": "RESOLVED"}}},

		// Malformed requests: 400.
		{"malformed JSON: 400", call{"POST", "/v1/promises", nil, `{"id":`}, want{400, nil}},
		{"missing id: 400", call{"POST", "/v1/promises", nil, `{"timeout":1}`}, want{400, nil}},
		{"missing timeout: 400", call{"POST", "/v1/promises", nil, `{"id":"m"}`}, want{400, nil}},
		{"unknown field: 400", call{"POST", "/v1/promises", nil, `{"id":"m","timeout":1,"x":1}`}, want{400, nil}},
		{"data not base64: 400", call{"POST", "/v1/promises", nil, `{"id":"m","timeout":1,"param":{"data":"!!"}}`}, want{400, nil}},
		{"bad strict header: 400", call{"POST", "/v1/promises", map[string]string{"strict": "maybe"}, create("m", far, "")}, want{400, nil}},
		{"settle to PENDING: 400", call{"PATCH", "/v1/promises/p1", nil, `{"state":"PENDING"}`}, want{400, nil}},
		{"settle to REJECTED_TIMEDOUT: 400", call{"PATCH", "/v1/promises/p1", nil, `{"state":"REJECTED_TIMEDOUT"}`}, want{400, nil}},
		{"settle without state: 400", call{"PATCH", "/v1/promises/p1", nil, `{}`}, want{400, nil}},
		{"wrong content type: 415", call{"POST", "/v1/promises", map[string]string{"Content-Type": "text/plain"}, create("m", far, "")}, want{415, nil}},
		{"bad id: 400", call{"POST", "/v1/promises", nil, create("a b", far, "")}, want{400, nil}},
	}
	for _, r := range rows {
		a := do(t, ts.URL, r.call)
		if r.want.status >= 400 {
			t.Run(r.rule, func(t *testing.T) { checkError(t, a, r.want.status) })
			continue
		}
		if a.status != r.want.status {
			t.Errorf("%s: status %d, want %d; body %s", r.rule, a.status, r.want.status, a.body)
			continue
		}
		got := a.json(t)
		for k, v := range r.want.fields {
			wj, _ := json.Marshal(v)
			gj, _ := json.Marshal(got[k])
			if string(wj) != string(gj) {
				t.Errorf("%s: %s = %s, want %s", r.rule, k, gj, wj)
			}
		}
	}
}

// TestPromiseSearch checks search: id globs, states (rejected covers all
// three), tags, limit and cursor paging, and timeouts applied to results.
func TestPromiseSearch(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	far := time.Now().Add(time.Hour).UnixMilli()
	past := time.Now().Add(-time.Second).UnixMilli()
	mk := func(id string, timeout int64, tags string) {
		t.Helper()
		a := do(t, ts.URL, call{"POST", "/v1/promises", nil, fmt.Sprintf(`{"id":%q,"timeout":%d,"tags":%s}`, id, timeout, tags)})
		if a.status != 201 {
			t.Fatalf("create %s: %d %s", id, a.status, a.body)
		}
	}
	settle := func(id, state string) {
		t.Helper()
		if a := do(t, ts.URL, call{"PATCH", "/v1/promises/" + id, nil, fmt.Sprintf(`{"state":%q}`, state)}); a.status != 201 {
			t.Fatalf("settle %s: %d %s", id, a.status, a.body)
		}
	}
	for i := range 7 {
		mk(fmt.Sprintf("job.%d", i), far, fmt.Sprintf(`{"k":"%d"}`, i%2))
	}
	mk("other.1", far, `{}`)
	mk("job.timedout", past, `{"k":"1"}`) // pending in the store, rejected on reads
	settle("job.0", "RESOLVED")
	settle("job.1", "REJECTED")
	settle("job.2", "REJECTED_CANCELED")

	search := func(q string) (ids []string, cursor string) {
		t.Helper()
		a := do(t, ts.URL, call{"GET", "/v1/promises?" + q, nil, ""})
		if a.status != 200 {
			t.Fatalf("search %s: %d %s", q, a.status, a.body)
		}
		var r struct {
			Promises []wire.Promise `json:"promises"`
			Cursor   *string        `json:"cursor"`
		}
		if err := json.Unmarshal(a.body, &r); err != nil || r.Promises == nil {
			t.Fatalf("search %s: body %s: %v", q, a.body, err)
		}
		for _, p := range r.Promises {
			ids = append(ids, p.ID+"="+p.State)
		}
		if r.Cursor != nil {
			if *r.Cursor == "" {
				t.Fatalf("search %s: empty cursor: absent on the last page", q)
			}
			cursor = *r.Cursor
		}
		return ids, cursor
	}
	for _, c := range []struct{ q, want string }{
		{"id=job.*&state=pending", "job.3=PENDING job.4=PENDING job.5=PENDING job.6=PENDING"},
		{"id=job.*&state=resolved", "job.0=RESOLVED"},
		{"id=job.*&state=rejected", "job.1=REJECTED job.2=REJECTED_CANCELED job.timedout=REJECTED_TIMEDOUT"},
		{"id=*.1", "job.1=REJECTED other.1=PENDING"},
		{"id=other.1", "other.1=PENDING"},
		{"id=job.*&tags[k]=1&state=pending", "job.3=PENDING job.5=PENDING"},
		{"tags[k]=1", "job.1=REJECTED job.3=PENDING job.5=PENDING job.timedout=REJECTED_TIMEDOUT"},
		{"id=none*", ""},
		{"state=PENDING&id=job.6", "job.6=PENDING"}, // case-insensitive
	} {
		ids, cursor := search(c.q)
		if got := strings.Join(ids, " "); got != c.want || cursor != "" {
			t.Errorf("search %s = %q cursor %q, want %q and no cursor", c.q, got, cursor, c.want)
		}
	}
	// Paging: 9 promises, pages of 2, every one once, cursor absent at the end.
	var all []string
	q := "limit=2"
	for pages := 0; ; pages++ {
		ids, cursor := search(q)
		if len(ids) > 2 || pages > 10 {
			t.Fatalf("page %d of %s: %v", pages, q, ids)
		}
		all = append(all, ids...)
		if cursor == "" {
			break
		}
		q = "limit=2&cursor=" + cursor
	}
	if len(all) != 9 {
		t.Errorf("paging found %d promises, want 9: %v", len(all), all)
	}
	if ids, _ := search("limit=1000"); len(ids) != 9 { // capped at 100, not refused
		t.Errorf("limit=1000 found %d", len(ids))
	}
	for _, bad := range []string{"state=done", "limit=x", "limit=-1", "cursor=%ff%ff", "nope=1", "id=a&id=b"} {
		checkError(t, do(t, ts.URL, call{"GET", "/v1/promises?" + bad, nil, ""}), http.StatusBadRequest)
	}
}
