package badgerstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestModules(t *testing.T) {
	d, _ := newDB(t)
	// Sizes around Badger's 1 MB value-log threshold and well past it.
	for _, size := range []int{0, 10, 1<<20 - 100, 1 << 20, 6 << 20} {
		wasm := make([]byte, size)
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range wasm {
			wasm[i] = byte(rng.Uint32())
		}
		hash := sha(wasm)
		for range 2 { // idempotent
			if err := d.PutModule(ctx, hash, wasm); err != nil {
				t.Fatalf("PutModule(%d bytes): %v", size, err)
			}
		}
		got, err := d.GetModule(ctx, hash)
		if err != nil || !bytes.Equal(got, wasm) {
			t.Fatalf("GetModule(%d bytes) = %d bytes, %v", size, len(got), err)
		}
	}
	err := d.PutModule(ctx, sha([]byte("a")), []byte("b"))
	wantErr(t, err, store.ErrInvalid)
	_, err = d.GetModule(ctx, sha([]byte("missing")))
	wantErr(t, err, store.ErrNotFound)
}

func TestFunctions(t *testing.T) {
	d, clk := newDB(t)
	m1, m2 := []byte("one"), []byte("two")
	for _, m := range [][]byte{m1, m2} {
		if err := d.PutModule(ctx, sha(m), m); err != nil {
			t.Fatal(err)
		}
	}
	if fs, err := d.ListFunctions(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("ListFunctions on empty = %v, %v", fs, err)
	}
	put := func(name string, m []byte, entry string) store.Function {
		t.Helper()
		f, err := d.PutFunction(ctx, name, sha(m), entry)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f1 := put("zeta", m1, "run")
	clk.set(t0 + 5)
	f2 := put("zeta", m2, "main")
	alpha := put("alpha", m1, "run")
	if f1.Version != 1 || f2.Version != 2 || alpha.Version != 1 || f2.CreatedOn != t0+5 {
		t.Fatalf("versions %+v %+v %+v", f1, f2, alpha)
	}
	if got, err := d.GetFunction(ctx, "zeta"); err != nil || !reflect.DeepEqual(got, f2) {
		t.Fatalf("GetFunction = %+v, %v", got, err)
	}
	fs, err := d.ListFunctions(ctx)
	if err != nil || !reflect.DeepEqual(fs, []store.Function{alpha, f2}) {
		t.Fatalf("ListFunctions = %+v, %v", fs, err)
	}
	_, err = d.GetFunction(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	_, err = d.PutFunction(ctx, "x", sha([]byte("not stored")), "run")
	wantErr(t, err, store.ErrNotFound)
	_, err = d.PutFunction(ctx, "", sha(m1), "run")
	wantErr(t, err, store.ErrInvalid)
}

func TestDeleteFunction(t *testing.T) {
	d, _ := newDB(t)
	m1, m2 := []byte("one"), []byte("two")
	for _, m := range [][]byte{m1, m2} {
		if err := d.PutModule(ctx, sha(m), m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.PutFunction(ctx, "f", sha(m1), "run"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutFunction(ctx, "f", sha(m2), "run"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutFunction(ctx, "other", sha(m1), "run"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, d.DeleteFunction(ctx, "f"), store.ErrNotFound)
	wantErr(t, d.DeleteFunction(ctx, "never"), store.ErrNotFound)
	_, err := d.GetFunction(ctx, "f")
	wantErr(t, err, store.ErrNotFound)
	if fs, err := d.ListFunctions(ctx); err != nil || len(fs) != 1 || fs[0].Name != "other" {
		t.Fatalf("ListFunctions after delete = %+v, %v", fs, err)
	}
	// Modules stay: executions pinned to them must still replay.
	for _, m := range [][]byte{m1, m2} {
		if got, err := d.GetModule(ctx, sha(m)); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("GetModule after delete = %q, %v", got, err)
		}
	}
	// Deploying the name again continues its versions.
	f, err := d.PutFunction(ctx, "f", sha(m1), "run")
	if err != nil || f.Version != 3 {
		t.Fatalf("PutFunction after delete = %+v, %v; want version 3", f, err)
	}
	if got, err := d.GetFunction(ctx, "f"); err != nil || got != f {
		t.Fatalf("GetFunction = %+v, %v", got, err)
	}
}
