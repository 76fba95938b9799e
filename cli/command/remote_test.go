package command

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// runCLI runs the command line in-process and returns its exit code,
// stdout and stderr. Not in parallel: urfave/cli writes its global help
// flag on every run.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), append([]string{"reprise", "--data", t.TempDir()}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestServerRefusalsMapToExitCodes drives commands against a server that
// answers every request with one status and the API's error body, as a
// tenant-aware server or a proxy would: the code and message a person sees
// depend only on that answer.
func TestServerRefusalsMapToExitCodes(t *testing.T) {
	const token = "tok-do-not-print"
	for _, tc := range []struct {
		status int
		code   int
		msgs   []string
	}{
		{401, ExitFailed, []string{"the server refused the token: set --token or REPRISE_TOKEN to a token from `reprise tenant create`"}},
		{429, ExitFailed, []string{"a limit is reached", "tenant t1: at most 2 invocations per second"}},
		{404, ExitNotFound, []string{"server said 404"}},
		{400, ExitUsage, []string{"server said 400"}},
		{413, ExitUsage, []string{"server said 413"}},
		{415, ExitUsage, []string{"server said 415"}},
		{409, ExitUsage, []string{"server said 409"}},
		{500, ExitFailed, []string{"failed: server said 500"}},
		{503, ExitFailed, []string{"server said 503"}},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var auth []string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth = append(auth, r.Header.Get("Authorization"))
				msg := fmt.Sprintf("server said %d", tc.status)
				if tc.status == 429 {
					msg = "tenant t1: at most 2 invocations per second"
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":{"code":%d,"message":%q}}`, tc.status*100, msg)
			}))
			defer ts.Close()
			for _, args := range [][]string{
				{"functions"},
				{"invoke", "hello", "--input", "{}"},
				{"get", "x"},
				{"resolve", "x.1"},
			} {
				code, _, stderr := runCLI(t, append([]string{"--server", ts.URL, "--token", token}, args...)...)
				if code != tc.code {
					t.Errorf("%v: exit %d, want %d; stderr %s", args, code, tc.code, stderr)
				}
				for _, m := range tc.msgs {
					if tc.status == 404 && (args[0] == "get" || args[0] == "resolve") {
						m = `no execution or promise with id "x"` // the command's own message
						if args[0] == "resolve" {
							m = `no promise with id "x.1" on server ` + ts.URL
						}
					}
					if !strings.Contains(stderr, m) {
						t.Errorf("%v: stderr lacks %q: %s", args, m, stderr)
					}
				}
				if strings.Contains(stderr, token) {
					t.Errorf("%v: stderr shows the token: %s", args, stderr)
				}
			}
			for _, a := range auth {
				if a != "Bearer "+token {
					t.Fatalf("Authorization %q", a)
				}
			}
		})
	}
}

func TestServerUnreachableNamesTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	code, _, stderr := runCLI(t, "--server", url, "ls")
	if code != ExitFailed || !strings.Contains(stderr, "cannot reach the server at "+url) || !strings.Contains(stderr, "--server") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestServerFlagUsageErrors(t *testing.T) {
	// Nothing listens: none of these may send a request.
	const url = "http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		msgs []string
	}{
		{[]string{"--server", url, "worker"}, []string{"reprise worker cannot be used with --server", "runs its executions itself"}},
		{[]string{"--server", url, "serve"}, []string{"reprise serve cannot be used with --server"}},
		{[]string{"--server", url, "run", "--timeout", "5s", "x.wasm"}, []string{"no such file"}}, // sources are checked first
		{[]string{"--server", "localhost:8420", "ls"}, []string{"--server", "http://HOST:PORT"}},
		{[]string{"--server", url, "get"}, []string{"missing ID"}},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, ExitUsage, stderr)
		}
		for _, m := range tc.msgs {
			if !strings.Contains(stderr, m) {
				t.Errorf("%v: stderr lacks %q: %s", tc.args, m, stderr)
			}
		}
	}
}

func TestTokenIsNotShownInHelp(t *testing.T) {
	t.Setenv("REPRISE_TOKEN", "tok-from-env-secret")
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"reprise", "--help"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	help := out.String() + errb.String()
	if !strings.Contains(help, "--server URL") || !strings.Contains(help, "--token TOKEN") {
		t.Errorf("help lacks the flags:\n%s", help)
	}
	if strings.Contains(help, "tok-from-env-secret") {
		t.Errorf("help shows the token:\n%s", help)
	}
}
