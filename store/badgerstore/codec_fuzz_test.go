package badgerstore

import (
	"reflect"
	"testing"

	"github.com/reprise-wasm/reprise/store"
)

// FuzzDecodeJournalChunk feeds arbitrary bytes to the journal decoders: a
// corrupt value must give an error, never a panic or an endless loop, and a
// well-formed chunk must decode to what was encoded.
func FuzzDecodeJournalChunk(f *testing.F) {
	var seed []byte
	for i, e := range []store.Entry{
		{Seq: 1, Op: store.OpNow, Outcome: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Time: 42},
		{Seq: 2, Op: store.OpInvoke, Child: "x.2", Digest: [16]byte{9}},
	} {
		seed = appendChunkEntry(seed, &e)
		f.Add(seed[:len(seed)-i])
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		decoded, ok := decodeChunk(t, v)
		if !ok {
			return
		}
		// Whatever decodes cleanly encodes to bytes that decode the same
		// (not necessarily the same bytes: lengths may be non-minimal varints).
		var again []byte
		for i := range decoded {
			again = appendChunkEntry(again, &decoded[i])
		}
		if back, ok := decodeChunk(t, again); !ok || !reflect.DeepEqual(back, decoded) {
			t.Fatalf("round trip changed the entries:\n%+v\n%+v", decoded, back)
		}
	})
}

func decodeChunk(t *testing.T, v []byte) ([]store.Entry, bool) {
	var decoded []store.Entry
	for rest := v; len(rest) > 0; {
		var e store.Entry
		ev, next, err := nextChunkEntry(rest, &e)
		if err != nil {
			return nil, false
		}
		if len(next) >= len(rest) {
			t.Fatalf("chunk decoding made no progress")
		}
		rest = next
		child, outcome, err := decodeEntry(ev, &e)
		if err != nil {
			return nil, false
		}
		e.Child, e.Outcome = string(child), outcome
		if len(e.Outcome) == 0 {
			e.Outcome = nil
		}
		decoded = append(decoded, e)
	}
	return decoded, true
}

// FuzzDecodeRecords checks the record decoders reject corrupt bytes cleanly.
func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		decodePromise("p", v)
		decodeExecution("e", v)
		decodeTask("e", v)
		decodeFunction("f", v)
		decodeList(v)
	})
}
