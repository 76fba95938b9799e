package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestMissingIDSaysWhatRetentionRemoves checks that the 404 of an id the
// store does not hold tells a client that finished executions and settled
// promises are removed after the retention period, naming it, so that a
// purged id is understood.
func TestMissingIDSaysWhatRetentionRemoves(t *testing.T) {
	ts, _ := newTestServer(t, Config{})
	for _, path := range []string{"/v1/promises/nosuch", "/v1/executions/nosuch"} {
		a := do(t, ts.URL, call{"GET", path, nil, ""})
		checkError(t, a, http.StatusNotFound)
		msg := a.json(t)["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, "not found") || !strings.Contains(msg, "removed 7 days after they settle (retention)") {
			t.Errorf("GET %s: message %q does not say what retention removes", path, msg)
		}
	}
}
