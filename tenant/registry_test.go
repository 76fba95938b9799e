package tenant

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/names"
)

func openTemp(t *testing.T) *Registry {
	t.Helper()
	r, err := Open(filepath.Join(t.TempDir(), "tenants.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCreatedTokenAuthenticatesAndOnlyItsHashIsStored(t *testing.T) {
	r := openTemp(t)
	ten, token, err := r.Create("acme", Limits{Rate: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, TokenPrefix) || len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	got, err := r.Authenticate(token)
	if err != nil || got.Name != "acme" || got.Limits.Rate != 5 {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	raw, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), token) || strings.Contains(string(raw), token[len(TokenPrefix):]) {
		t.Fatal("the tenants file holds the token itself")
	}
	if !strings.Contains(string(raw), ten.TokenHash) {
		t.Fatal("the tenants file lacks the token's hash")
	}
	if fi, _ := os.Stat(r.Path()); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("tenants file mode %v: readable by others", fi.Mode())
	}
}

func TestWrongForgedAndEmptyTokensAreRefused(t *testing.T) {
	r := openTemp(t)
	ten, token, err := r.Create("acme", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "rpr_", token[:len(token)-1], token + "x", strings.ToUpper(token),
		ten.TokenHash,               // the stored hash is not a token
		TokenPrefix + ten.TokenHash, // nor is it with the prefix
		strings.Repeat("a", 10_000),
	} {
		if _, err := r.Authenticate(bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(%.20q…) = %v, want ErrUnauthorized", bad, err)
		}
	}
}

func TestRotateRevokesTheOldTokenInAnotherProcessView(t *testing.T) {
	r := openTemp(t)
	_, old, err := r.Create("acme", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A second registry on the same file stands for the running server.
	srv, err := Open(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Authenticate(old); err != nil {
		t.Fatal(err)
	}
	fresh, err := r.Rotate("acme")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, errOld := srv.Authenticate(old)
		_, errNew := srv.Authenticate(fresh)
		if errors.Is(errOld, ErrUnauthorized) && errNew == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rotate: old token %v, new token %v", errOld, errNew)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCreateRefusesDuplicatesAndBadNames(t *testing.T) {
	r := openTemp(t)
	if _, _, err := r.Create("acme", Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Create("acme", Limits{}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, name := range []string{"", "../etc", "a/b", "Acme", "-x", "a b", strings.Repeat("a", 64), "ä"} {
		if _, _, err := r.Create(name, Limits{}); !errors.Is(err, ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", name, err)
		}
	}
	if _, _, err := r.Create("b", Limits{HTTPAllow: []string{"http://x"}}); err == nil || !strings.Contains(err.Error(), LimitHTTPAllow) {
		t.Errorf("bad allowlist: %v", err)
	}
}

func TestConcurrentCreatesLoseNothing(t *testing.T) {
	r := openTemp(t)
	var wg sync.WaitGroup
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate registries, as separate processes would be.
			other, err := Open(r.Path())
			if err != nil {
				t.Error(err)
				return
			}
			if _, _, err := other.Create(n, Limits{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	ts, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(names) {
		t.Fatalf("%d tenants after %d concurrent creates", len(ts), len(names))
	}
}

func TestSetLimitsKeepsOtherLimitsAndTheToken(t *testing.T) {
	r := openTemp(t)
	_, token, err := r.Create("acme", Limits{Memory: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetLimits("acme", func(l *Limits) { l.Rate = 7 }); err != nil {
		t.Fatal(err)
	}
	got, err := r.Authenticate(token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.Memory != 32<<20 || got.Limits.Rate != 7 {
		t.Fatalf("limits %+v", got.Limits)
	}
	if _, err := r.SetLimits("nobody", func(*Limits) {}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := r.SetLimits("acme", func(l *Limits) { l.Memory = 1 }); err == nil {
		t.Fatal("a memory limit below one page was accepted")
	}
}

func TestDamagedFileIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Open damaged = %v", err)
	}
}

func TestLimitsDefaultsAndHTTPAllow(t *testing.T) {
	l := Limits{Rate: 1000, HTTPAllow: []string{"api.example.com", "*.svc.local"}}.WithDefaults()
	if l.Burst != 1000 || l.Memory != DefaultLimits().Memory || l.JournalLength != DefaultLimits().JournalLength {
		t.Fatalf("defaults %+v", l)
	}
	for host, want := range map[string]bool{
		"api.example.com": true, "API.example.com": true, "api.example.com.": true,
		"x.svc.local": true, "svc.local": false, "evil.com": false, "api.example.com.evil.com": false,
	} {
		if got := l.AllowsHTTP(host); got != want {
			t.Errorf("AllowsHTTP(%q) = %v", host, got)
		}
	}
	if (Limits{}).AllowsHTTP("example.com") {
		t.Error("an empty allowlist allows a host")
	}
}

// The storage quota defaults to 1 GiB, and one under what an empty store
// occupies is refused naming the limit.
func TestStorageLimit(t *testing.T) {
	if got := (Limits{}).WithDefaults().Storage; got != 1<<30 {
		t.Fatalf("default storage %d", got)
	}
	if err := (Limits{Storage: 64 << 10}).Validate(); err == nil || !strings.Contains(err.Error(), "limit storage") {
		t.Fatalf("a 64 KiB quota: %v", err)
	}
	if err := (Limits{Storage: 4 << 20}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "64KiB": 64 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "2M": 2 << 20, "3 MB": 3 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1TB", "99999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestAServerKeepsItsTenantsWhenTheFileIsDamaged(t *testing.T) {
	r := openTemp(t)
	_, token, err := r.Create("acme", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Open(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	srv.LogTo(slog.New(slog.NewTextHandler(&logged, nil)))
	if err := os.WriteFile(r.Path(), []byte(`{"tenants":[{"name":"acme","tok`), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(RecheckEvery + 50*time.Millisecond)
	if got, err := srv.Authenticate(token); err != nil || got.Name != "acme" {
		t.Fatalf("after the file was damaged: %+v, %v", got, err)
	}
	if !strings.Contains(logged.String(), "damaged") {
		t.Fatalf("nothing logged: %q", logged.String())
	}
	// A command (no logger) is told.
	if _, err := Open(r.Path()); err == nil {
		t.Fatal("Open of a damaged file succeeded")
	}
}

func TestANameThatEscapesTheTenantsDirectoryIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.json")
	os.WriteFile(path, []byte(`{"tenants":[{"name":"../../etc","token_sha256":"00"}]}`), 0o600)
	if _, err := Open(path); err == nil || !errors.Is(err, ErrBadName) {
		t.Fatalf("Open = %v, want ErrBadName", err)
	}
}

func TestCheckNameIsNarrowerThanTheSharedRule(t *testing.T) {
	for _, s := range []string{"acme", "a-1_b", "0", strings.Repeat("a", 63),
		"", ".", "..", "a b", "a/b", `a\b`, "a*", "a\x00", "a\xff", "Acme", "-x", "_x", "ä", strings.Repeat("a", 64)} {
		err := CheckName(s)
		if err == nil && names.Check(s) != nil {
			t.Errorf("CheckName(%q) accepts what names.Check refuses: %v", s, names.Check(s))
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", s, err)
		}
	}
	if err := CheckName("a b"); err == nil || !strings.Contains(err.Error(), `invalid tenant name "a b": names may not contain spaces`) {
		t.Errorf("CheckName(%q) = %v", "a b", err)
	}
}
