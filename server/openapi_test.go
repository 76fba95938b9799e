package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reprise-wasm/reprise/wire"
)

// TestOpenAPI checks openapi.json against the real routes: every route the
// server registers is documented, every documented path and method is
// served by the mux (not by the /v1/ fallback or a 405), and every path
// parameter is declared.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		declared := map[string]bool{}
		var shared []struct{ Name, In string }
		if p, ok := item["parameters"]; ok {
			json.Unmarshal(p, &shared)
		}
		for _, p := range shared {
			if p.In == "path" {
				declared[p.Name] = true
			}
		}
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			var o struct {
				Parameters []struct{ Name, In string }
				Responses  map[string]json.RawMessage
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s: no responses (%v)", method, path, err)
			}
			for _, p := range o.Parameters {
				if p.In == "path" {
					declared[p.Name] = true
				}
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %s is not declared", method, path, m[1])
				}
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	s := New(nil, Config{})
	registered := slices.Clone(s.patterns)
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json documents %s, which is not served", d)
		}
	}
	// Drive the mux itself: a documented route must reach its handler. With
	// no host yet, API routes answer 503; the fallback would say 404, a
	// method mismatch 405.
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		url := regexp.MustCompile(`\{\w+\}`).ReplaceAllString(path, "x")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(method, url, nil))
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s %s (as %s): %d %s", method, path, url, rec.Code, rec.Body)
		}
	}
}

// TestOpenAPISchemasAreTheWireTypes checks that each schema of
// openapi.json has exactly the JSON fields of its type in package wire.
func TestOpenAPISchemasAreTheWireTypes(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// at walks keys down from v; a missing one is nil.
	at := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	schemas := doc.Components.Schemas
	invoke := at(doc.Paths, "/v1/functions/{name}/invoke", "post", "responses", "202", "content", "application/json", "schema")
	for _, tc := range []struct {
		what   string
		schema any
		typ    any
	}{
		{"Value", schemas["Value"], wire.Value{}},
		{"Promise", schemas["Promise"], wire.Promise{}},
		{"CreatePromise", schemas["CreatePromise"], wire.CreatePromise{}},
		{"SettlePromise", schemas["SettlePromise"], wire.SettlePromise{}},
		{"PromiseList", schemas["PromiseList"], wire.PromiseList{}},
		{"ExecutionList", schemas["ExecutionList"], wire.ExecutionList{}},
		{"ExecutionView", schemas["ExecutionView"], wire.ExecutionView{}},
		{"ExecutionView.execution", at(schemas, "ExecutionView", "properties", "execution"), wire.Execution{}},
		{"History", schemas["History"], wire.History{}},
		{"History.entries[]", at(schemas, "History", "properties", "entries", "items"), wire.Entry{}},
		{"Function", schemas["Function"], wire.Function{}},
		{"FunctionList", schemas["FunctionList"], wire.FunctionList{}},
		{"Error", schemas["Error"], wire.ErrorBody{}},
		{"Error.error", at(schemas, "Error", "properties", "error"), wire.Error{}},
		{"invoke's 202", invoke, wire.Invocation{}},
	} {
		props, _ := at(tc.schema, "properties").(map[string]any)
		var documented, fields []string
		for k := range props {
			documented = append(documented, k)
		}
		rt := reflect.TypeOf(tc.typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
		}
		slices.Sort(documented)
		slices.Sort(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("%s: openapi.json has %v, wire.%s has %v", tc.what, documented, rt.Name(), fields)
		}
	}
}
