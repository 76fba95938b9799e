package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/reprise-wasm/reprise/wire"
)

// FuzzDecoders feeds the request decoders arbitrary bodies, headers and
// queries: they must never panic, and whatever decodes must re-encode to
// the same request (decode → encode → decode is a fixed point).
func FuzzDecoders(f *testing.F) {
	f.Add(`{"id":"p","timeout":1,"param":{"headers":{"a":"b"},"data":"aGk="},"tags":{"t":"1"}}`, `{"state":"RESOLVED","value":{"data":"aGk="}}`, "id=a*&state=pending&tags[k]=v&limit=5&cursor=c", "true")
	f.Add(`{"id":"","timeout":-1}`, `{"state":"PENDING"}`, "limit=1000", "maybe")
	f.Add(`{`, `[]`, "tags[]=x&%zz", "")
	f.Fuzz(func(t *testing.T, create, settle, query, strict string) {
		h := http.Header{"Strict": {strict}, "Idempotency-Key": {"k"}}

		var cb wire.CreatePromise
		if unmarshalStrict([]byte(create), &cb) == nil {
			if c, err := parseCreate(cb, h); err == nil {
				b, err := json.Marshal(cb)
				if err != nil {
					t.Fatalf("re-encode %+v: %v", cb, err)
				}
				var cb2 wire.CreatePromise
				if err := unmarshalStrict(b, &cb2); err != nil {
					t.Fatalf("re-decode %s: %v", b, err)
				}
				if c2, err := parseCreate(cb2, h); err != nil || !reflect.DeepEqual(norm(c), norm(c2)) {
					t.Fatalf("create %s: %+v, then %+v (%v)", b, c, c2, err)
				}
			}
		}

		var sb wire.SettlePromise
		if unmarshalStrict([]byte(settle), &sb) == nil {
			if s, err := parseSettle("id", sb, h); err == nil {
				b, _ := json.Marshal(sb)
				var sb2 wire.SettlePromise
				if err := unmarshalStrict(b, &sb2); err != nil {
					t.Fatalf("re-decode %s: %v", b, err)
				}
				if s2, err := parseSettle("id", sb2, h); err != nil || !reflect.DeepEqual(norm(s), norm(s2)) {
					t.Fatalf("settle %s: %+v, then %+v (%v)", b, s, s2, err)
				}
			}
		}

		if v, err := url.ParseQuery(query); err == nil {
			if q, err := parseSearch(v); err == nil {
				if q.Limit < 0 || q.Limit > 100 || q.IDGlob == "" {
					t.Fatalf("query %q gave %+v", query, q)
				}
			}
		}
		parseDuration("wait", query, DefaultMaxWait)
	})
}

// norm makes empty and nil maps and slices compare equal, as JSON does.
func norm(v any) string {
	b, _ := json.Marshal(v)
	var m any
	json.Unmarshal(b, &m)
	return stripEmpty(m)
}

func stripEmpty(v any) string {
	b, _ := json.Marshal(prune(v))
	return string(b)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = prune(e); e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(x) == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}
