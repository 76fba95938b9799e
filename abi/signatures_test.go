package abi

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSignaturesAgreeWithABIDocument checks Signatures against the host
// call table of ABI.md, the specification SDK authors implement from.
func TestSignaturesAgreeWithABIDocument(t *testing.T) {
	doc, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	_, calls, ok := strings.Cut(string(doc), "## Host calls (`"+Module+"`)")
	if !ok {
		t.Fatalf("ABI.md has no section for %s", Module)
	}
	// | `name` | `(a i32, b i64) -> i32` | ...
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `\\(([^)]*)\\) -> ([^`]*)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(calls, -1) {
		var params []string
		for _, p := range strings.Split(m[2], ",") {
			if f := strings.Fields(p); len(f) > 0 {
				params = append(params, f[len(f)-1])
			}
		}
		results := strings.Trim(m[3], "() ")
		documented = append(documented, m[1]+"("+strings.Join(params, ",")+")"+results)
	}
	var declared []string
	for _, s := range Signatures() {
		var params, results []string
		for _, p := range s.Params {
			params = append(params, p.String())
		}
		for _, r := range s.Results {
			results = append(results, r.String())
		}
		declared = append(declared, s.Name+"("+strings.Join(params, ",")+")"+strings.Join(results, ","))
	}
	if strings.Join(documented, "\n") != strings.Join(declared, "\n") {
		t.Errorf("ABI.md documents\n\t%s\nSignatures declares\n\t%s", strings.Join(documented, "\n\t"), strings.Join(declared, "\n\t"))
	}
}
