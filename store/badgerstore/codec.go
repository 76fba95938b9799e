package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/reprise-wasm/reprise/store"
)

// Values are stored in a small hand-written binary format: it is several times
// faster than encoding/json and allocates only for the strings and byte slices
// it returns. Every record starts with a format version byte so the layout can
// evolve; the record's own id lives in its key and is not repeated.
//
// Building blocks: unsigned integers are uvarints, signed ones zigzag varints,
// strings are a uvarint length then the bytes, maps a uvarint count then
// key/value strings, and byte slices a uvarint of length+1 (0 means nil, so an
// absent value and an empty one stay distinct).

const formatV1 = 1

var errCorrupt = errors.New("corrupt record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// reader decodes the building blocks above. The first failure sticks, so a
// decoder reads every field and checks err once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// raw returns the next n bytes without copying.
func (r *reader) raw(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.raw(r.uvarint())) }

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	return append([]byte{}, r.raw(n-1)...)
}

func (r *reader) stringMap() map[string]string {
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.b)) { // each pair takes at least 2 bytes
		if n != 0 {
			r.fail()
		}
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.string()
		m[k] = r.string()
	}
	return m
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	if r.err != nil {
		return fmt.Errorf("decode %s: %w", what, r.err)
	}
	return nil
}

func (r *reader) version(what string) {
	if v := r.byte(); v != formatV1 && r.err == nil {
		r.err = fmt.Errorf("%s format version %d is unknown", what, v)
	}
}

func encodePromise(p *store.Promise) []byte {
	b := make([]byte, 0, 64+len(p.Param.Data)+len(p.Value.Data))
	b = append(b, formatV1, byte(p.State))
	b = binary.AppendVarint(b, p.Timeout)
	b = binary.AppendVarint(b, p.CreatedOn)
	b = binary.AppendVarint(b, p.CompletedOn)
	b = appendString(b, p.IdempotencyKeyForCreate)
	b = appendString(b, p.IdempotencyKeyForComplete)
	b = appendMap(b, p.Param.Headers)
	b = appendBytes(b, p.Param.Data)
	b = appendMap(b, p.Value.Headers)
	b = appendBytes(b, p.Value.Data)
	return appendMap(b, p.Tags)
}

func decodePromise(id string, v []byte) (store.Promise, error) {
	r := reader{b: v}
	r.version("promise")
	p := store.Promise{ID: id, State: store.State(r.byte())}
	p.Timeout = r.varint()
	p.CreatedOn = r.varint()
	p.CompletedOn = r.varint()
	p.IdempotencyKeyForCreate = r.string()
	p.IdempotencyKeyForComplete = r.string()
	p.Param.Headers = r.stringMap()
	p.Param.Data = r.bytes()
	p.Value.Headers = r.stringMap()
	p.Value.Data = r.bytes()
	p.Tags = r.stringMap()
	return p, r.done("promise " + id)
}

func encodeExecution(e *store.Execution) []byte {
	b := make([]byte, 0, 32+len(e.Function)+len(e.Module)+len(e.Entry)+len(e.Parent)+len(e.LastError))
	b = append(b, formatV1)
	b = appendString(b, e.Function)
	b = appendString(b, e.Module)
	b = appendString(b, e.Entry)
	b = appendString(b, e.Parent)
	b = binary.AppendUvarint(b, uint64(e.Attempt))
	b = binary.AppendVarint(b, e.AttemptStart)
	return appendString(b, e.LastError)
}

func decodeExecution(id string, v []byte) (store.Execution, error) {
	r := reader{b: v}
	r.version("execution")
	e := store.Execution{ID: id}
	e.Function = r.string()
	e.Module = r.string()
	e.Entry = r.string()
	e.Parent = r.string()
	e.Attempt = uint32(r.uvarint())
	e.AttemptStart = r.varint()
	e.LastError = r.string()
	return e, r.done("execution " + id)
}

func encodeTask(t *store.Task) []byte {
	b := make([]byte, 0, 24+len(t.Owner))
	b = append(b, formatV1)
	b = appendString(b, t.Owner)
	b = binary.AppendVarint(b, t.LeaseUntil)
	return binary.AppendVarint(b, t.ReadyAt)
}

func decodeTask(exec string, v []byte) (store.Task, error) {
	r := reader{b: v}
	r.version("task")
	t := store.Task{Exec: exec, Owner: r.string()}
	t.LeaseUntil = r.varint()
	t.ReadyAt = r.varint()
	return t, r.done("task " + exec)
}

func encodeFunction(f *store.Function) []byte {
	b := make([]byte, 0, 24+len(f.Module)+len(f.Entry))
	b = append(b, formatV1)
	b = binary.AppendUvarint(b, uint64(f.Version))
	b = appendString(b, f.Module)
	b = appendString(b, f.Entry)
	return binary.AppendVarint(b, f.CreatedOn)
}

func decodeFunction(name string, v []byte) (store.Function, error) {
	r := reader{b: v}
	r.version("function")
	f := store.Function{Name: name, Version: uint32(r.uvarint())}
	f.Module = r.string()
	f.Entry = r.string()
	f.CreatedOn = r.varint()
	return f, r.done("function " + name)
}

// encodeList and decodeList store the id lists of callbacks and waiters.
func encodeList(ids []string) []byte {
	var b []byte
	for _, id := range ids {
		b = appendString(b, id)
	}
	return b
}

func decodeList(v []byte) ([]string, error) {
	r := reader{b: v}
	var ids []string
	for len(r.b) > 0 && r.err == nil {
		ids = append(ids, r.string())
	}
	return ids, r.done("id list")
}

// Journal entries are the hot path (replay reads thousands), so their layout
// is fixed where it can be: op (1 byte), digest (16), time (8, big endian),
// then the child id (uvarint length, bytes) and the outcome (the rest). The
// entries of one commit share one key (see appendChunkEntry).
const entryFixed = 1 + 16 + 8

func appendEntry(b []byte, e *store.Entry) []byte {
	b = append(b, byte(e.Op))
	b = append(b, e.Digest[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = appendString(b, e.Child)
	return append(b, e.Outcome...)
}

// A journal chunk (the value of one journal key) is a run of entries, each
// as uvarint length, then seq (4 bytes, big endian), then appendEntry's bytes.
func appendChunkEntry(b []byte, e *store.Entry) []byte {
	n := 4 + entryFixed + uvarintLen(uint64(len(e.Child))) + len(e.Child) + len(e.Outcome)
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.BigEndian.AppendUint32(b, e.Seq)
	return appendEntry(b, e)
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// nextChunkEntry splits the first entry off a chunk: it sets e.Seq and
// returns the entry's appendEntry bytes and the rest of the chunk.
func nextChunkEntry(v []byte, e *store.Entry) (entry, rest []byte, err error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n < 4 || uint64(len(v)-k) < n {
		return nil, nil, fmt.Errorf("decode journal chunk: %w", errCorrupt)
	}
	v = v[k:]
	e.Seq = binary.BigEndian.Uint32(v)
	return v[4:n], v[n:], nil
}

// decodeEntry decodes v into e without allocating: Child and Outcome are
// returned as ranges of v, which the caller copies into its own arena.
func decodeEntry(v []byte, e *store.Entry) (child, outcome []byte, err error) {
	if len(v) < entryFixed+1 {
		return nil, nil, fmt.Errorf("decode journal entry: %w", errCorrupt)
	}
	e.Op = store.Op(v[0])
	copy(e.Digest[:], v[1:17])
	e.Time = int64(binary.BigEndian.Uint64(v[17:25]))
	n, k := binary.Uvarint(v[entryFixed:])
	if k <= 0 || uint64(len(v)-entryFixed-k) < n {
		return nil, nil, fmt.Errorf("decode journal entry: %w", errCorrupt)
	}
	rest := v[entryFixed+k:]
	return rest[:n], rest[n:], nil
}
