package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/reprise-wasm/reprise/budget"
)

// A budget full now is 429 (retry later), one a request can never fit is
// 413 (make it smaller); both name the limit.
func TestBudgetErrorsNameTheLimit(t *testing.T) {
	for _, c := range []struct {
		never  bool
		status int
	}{{false, http.StatusTooManyRequests}, {true, http.StatusRequestEntityTooLarge}} {
		err := fmt.Errorf("deploy: %w", &budget.ExceededError{Limit: "memory_budget", Budget: 1 << 30, Need: 2 << 30, What: "compiling a module", Never: c.never})
		he := toHTTP(err)
		if he.status() != c.status || he.Limit != "memory_budget" {
			t.Errorf("never=%v: %d limit %q, want %d naming memory_budget", c.never, he.status(), he.Limit, c.status)
		}
	}
}
