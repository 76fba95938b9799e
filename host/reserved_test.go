package host_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

func TestCreatePromiseRefusesReservedTags(t *testing.T) {
	h := newHost(t)
	for _, c := range []store.Create{
		{ID: "a", Timeout: store.NoTimeout, Tags: map[string]string{host.TagKind: "http"}},
		{ID: "b", Timeout: store.NoTimeout, Tags: map[string]string{host.TagFunction: "f"}},
		{ID: "c", Timeout: store.NoTimeout, IdempotencyKey: "reprise:result"},
	} {
		if _, _, err := h.CreatePromise(context.Background(), c); !errors.Is(err, host.ErrReserved) {
			t.Errorf("create %+v: %v, want ErrReserved", c, err)
		}
		if _, err := h.Get(context.Background(), c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("promise %s was written: %v", c.ID, err)
		}
	}
	if _, created, err := h.CreatePromise(context.Background(), store.Create{ID: "d", Timeout: store.NoTimeout, Tags: map[string]string{"kind": "mine"}}); err != nil || !created {
		t.Fatalf("an ordinary tag: %v", err)
	}
}

// Recovery sends again only the HTTP intents the host's own guests made: a
// pending promise that merely carries the http kind tag (as an older server
// let anyone write) is not sent, while a real idempotent intent left by a
// stopped host is.
func TestRecoverySendsOnlyIntentsTheHostMade(t *testing.T) {
	arrived := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		<-r.Context().Done() // never answers: the request stays in flight
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	dir := t.TempDir()

	h := openHost(t, dir, allowLoopbackHTTP)
	h.deployRaw("g", guestHTTPAfterSteps(0, fmt.Sprintf(`{"method":"POST","url":%q,"idempotent":true}`, srv.URL+"/real")))
	id, err := h.Invoke(context.Background(), "g", nil, host.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := <-arrived; p != "/real" {
		t.Fatalf("request to %s", p)
	}
	h.close() // the intent stays without an outcome

	forged := func(id string) store.Create {
		return store.Create{ID: id, Timeout: store.NoTimeout, Tags: map[string]string{host.TagKind: "http"},
			Param: store.Value{Data: fmt.Appendf(nil, `{"method":"POST","url":%q,"idempotent":true}`, srv.URL+"/forged")}}
	}
	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.Create{
		forged("nobody.1"),   // no such execution
		forged(id + ".7"),    // no such step of a real one
		forged("not-a-step"), // not a step's id at all
	} {
		if _, _, err := db.CreatePromise(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	h = openHost(t, dir, allowLoopbackHTTP)
	// Recovery ran in New: what it sends is in flight now.
	if !host.SendingHTTP(h.Host, id+".1") {
		t.Fatalf("the real intent %s.1 is not being sent again", id)
	}
	for _, p := range []string{"nobody.1", id + ".7", "not-a-step"} {
		if host.SendingHTTP(h.Host, p) {
			t.Errorf("recovery sends the request of %s, which no execution made", p)
		}
	}
	if p := <-arrived; p != "/real" {
		t.Fatalf("request to %s", p)
	}
}
