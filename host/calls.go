package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/names"
	"github.com/reprise-wasm/reprise/store"
)

// hostCalls implements each host call of abi.Signatures. Each is written
// once, against the engine-neutral interface, and works only inside a Host,
// which passes the execution in the call's context.
var hostCalls = map[string]engine.HostFunc{
	abi.ImportInput:     callInput,
	abi.ImportResolve:   callResolve,
	abi.ImportReject:    callReject,
	abi.ImportInvoke:    callInvoke,
	abi.ImportSleep:     callSleep,
	abi.ImportPromise:   callPromise,
	abi.ImportHTTP:      callHTTP,
	abi.ImportAwait:     callAwait,
	abi.ImportAwaitAny:  callAwaitAny,
	abi.ImportValue:     callValue,
	abi.ImportPromiseID: callPromiseID,
	abi.ImportNow:       callNow,
	abi.ImportRandom:    callRandom,
	abi.ImportLog:       callLog,
}

// imports lists ABI v1's host calls as engine imports.
func imports() []engine.Import {
	sigs := abi.Signatures()
	out := make([]engine.Import, len(sigs))
	for i, s := range sigs {
		out[i] = engine.Import{Module: abi.Module, Name: s.Name, Params: engineTypes(s.Params), Results: engineTypes(s.Results), Func: hostCalls[s.Name]}
	}
	return out
}

func engineTypes(ts []abi.ValueType) []engine.ValueType {
	out := make([]engine.ValueType, len(ts))
	for i, t := range ts {
		out[i] = engine.I32
		if t == abi.I64 {
			out[i] = engine.I64
		}
	}
	return out
}

func ret(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// copyOut implements the length-then-copy convention: b goes to buf only
// when it fits; the length is returned either way.
func copyOut(mem engine.Memory, buf, capacity uint32, b []byte) int32 {
	if len(b) > 0 && uint32(len(b)) <= capacity && !mem.Write(buf, b) {
		return abi.ErrBadMemory
	}
	return int32(len(b))
}

// readIn copies n guest bytes at ptr, checking the size limit first.
func (r *run) readIn(mem engine.Memory, ptr, n uint32, limit int) ([]byte, int32) {
	if int64(n) > int64(limit) {
		return nil, abi.ErrTooLarge
	}
	if n == 0 {
		return []byte{}, 0 // the pointer of an empty buffer is not read
	}
	v, ok := mem.Read(ptr, n)
	if !ok {
		return nil, abi.ErrBadMemory
	}
	return append([]byte(nil), v...), 0
}

func callInput(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	ret(stack, copyOut(mem, uint32(stack[0]), uint32(stack[1]), r.input))
}

func callResolve(ctx context.Context, mem engine.Memory, stack []uint64) {
	ret(stack, runOf(ctx).setOutcome(mem, stack, store.Resolved))
}

func callReject(ctx context.Context, mem engine.Memory, stack []uint64) {
	ret(stack, runOf(ctx).setOutcome(mem, stack, store.Rejected))
}

func (r *run) setOutcome(mem engine.Memory, stack []uint64, s store.State) int32 {
	if r.outcome != store.Pending {
		return abi.ErrAlreadySet
	}
	b, code := r.readIn(mem, uint32(stack[0]), uint32(stack[1]), r.h.cfg.MaxPayload)
	if code != 0 {
		return code
	}
	r.outcome, r.result = s, b
	return 0
}

func callInvoke(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	nameLen := uint32(stack[1])
	if nameLen == 0 || nameLen > names.MaxLen {
		ret(stack, abi.ErrBadArgument)
		return
	}
	name, code := r.readIn(mem, uint32(stack[0]), nameLen, names.MaxLen)
	if code != 0 {
		ret(stack, code)
		return
	}
	args, code := r.readIn(mem, uint32(stack[2]), uint32(stack[3]), r.h.cfg.MaxPayload)
	if code != 0 {
		ret(stack, code)
		return
	}
	d := digest(store.OpInvoke, name, args)
	seq, e := r.step(store.OpInvoke, d)
	hd := r.newHandle(seq, store.OpInvoke)
	switch {
	case e != nil && len(e.Outcome) > 0:
		// Refused by a work limit when first made: refused again, whatever
		// the limits say now.
		hd.refuse(e.Outcome, e.Time)
	case e != nil:
		r.children++
	default:
		if le := r.refuseChild(); le != nil {
			// Journaled like a local step: its effect stays in the guest.
			value, now := errorValue(le.Error(), ""), time.Now().UnixNano()
			r.recordAt(seq, store.OpInvoke, d, "", value, now)
			hd.refuse(value, now)
			break
		}
		r.children++
		r.startChild(seq, d, string(name), args)
	}
	ret(stack, int32(seq))
}

// startChild records a new child execution, started once the step is durable.
func (r *run) startChild(seq uint32, d [16]byte, name string, args []byte) {
	id := r.childID(seq)
	exec := store.Execution{ID: id, Function: name, Parent: r.exec.ID, Attempt: 1, AttemptStart: time.Now().UnixNano()}
	// An unknown function is not the parent's bug to trap on: the child
	// starts without a module and its promise rejects saying so.
	if f, err := r.h.function(r.ctx, name); err == nil {
		exec.Module, exec.Entry = f.Module, f.Entry
	}
	r.pending.Starts = append(r.pending.Starts, store.Start{
		Promise: store.Create{ID: id, Timeout: store.NoTimeout, Param: store.Value{Data: args},
			IdempotencyKey: keyOf(d), Tags: map[string]string{TagFunction: name, TagDepth: strconv.Itoa(r.depth + 1)}},
		Execution: exec,
	})
	r.startSeqs = append(r.startSeqs, seq)
	r.pendingBytes += len(args) + len(name)
	r.record(seq, store.OpInvoke, d, id, nil)
}

// keyOf makes a request digest an idempotency key: re-issuing the same call
// at the same step (a replay, a retry) finds the promise; another call fails.
func keyOf(d [16]byte) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 32)
	for i, c := range d {
		b[2*i], b[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return string(b)
}

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// maxWaitMs caps sleeps and promise timeouts (about 100 years), so deadlines
// never overflow.
const maxWaitMs = 100 * 365 * 24 * 3600 * 1000

// promiseCall is sleep and promise: a new promise with a timeout.
func (r *run) promiseCall(op store.Op, durNs int64, tags map[string]string) int32 {
	ms := waitMs(durNs)
	d := digest(op, be64(ms))
	seq, e := r.step(op, d)
	hd := r.newHandle(seq, op)
	if op == store.OpSleep {
		hd.sleepNs = ms * 1_000_000
	}
	if e == nil {
		timeout := store.NoTimeout
		if ms > 0 || op == store.OpSleep {
			timeout = deadlineMs(time.Now().UnixNano(), ms)
		}
		r.pending.Creates = append(r.pending.Creates, store.Create{ID: hd.id, Timeout: timeout, IdempotencyKey: keyOf(d), Tags: tags})
		r.createSeqs = append(r.createSeqs, seq)
		r.record(seq, op, d, hd.id, nil)
	}
	return int32(seq)
}

// waitMs is a wait of durNs in whole ms, rounded up (without overflowing
// near MaxInt64) and capped at maxWaitMs.
func waitMs(durNs int64) int64 {
	ms := durNs / 1_000_000
	if durNs%1_000_000 != 0 {
		ms++
	}
	return min(ms, maxWaitMs)
}

// deadlineMs is the timeout, in Unix ms, of a promise made at nowNs that
// times out after ms: rounded up, so that a sleep never ends early by the
// guest's own journaled clock (now is in ns; a truncated start would let
// sleep(200ms) be seen to take 199.x ms).
func deadlineMs(nowNs, ms int64) int64 {
	return (nowNs+999_999)/1_000_000 + ms
}

func callSleep(ctx context.Context, mem engine.Memory, stack []uint64) {
	ns := int64(stack[0])
	if ns < 0 {
		ret(stack, abi.ErrBadArgument)
		return
	}
	ret(stack, runOf(ctx).promiseCall(store.OpSleep, ns, map[string]string{store.TimeoutTag: "true", TagKind: "sleep"}))
}

func callPromise(ctx context.Context, mem engine.Memory, stack []uint64) {
	ret(stack, runOf(ctx).promiseCall(store.OpPromise, max(int64(stack[0]), 0), map[string]string{TagKind: "promise"}))
}

func callHTTP(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	r.http(mem, stack)
	r.stepResume()
}

func (r *run) http(mem engine.Memory, stack []uint64) {
	req, code := r.readIn(mem, uint32(stack[0]), uint32(stack[1]), r.h.cfg.MaxPayload+64<<10)
	if code != 0 {
		ret(stack, code)
		return
	}
	var hr abi.HTTPRequest
	if err := json.Unmarshal(req, &hr); err != nil || hr.URL == "" {
		ret(stack, abi.ErrBadArgument)
		return
	}
	if len(hr.Body) > r.h.cfg.MaxPayload {
		ret(stack, abi.ErrTooLarge)
		return
	}
	d := digest(store.OpHTTP, req)
	seq, e := r.step(store.OpHTTP, d)
	hd := r.newHandle(seq, store.OpHTTP)
	hd.req = req
	if e != nil {
		r.recoverHTTP(hd, hr.Idempotent)
		ret(stack, int32(seq))
		return
	}
	r.stepEnd()
	p, err := r.h.store.GetPromise(r.ctx, hd.id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// Unknown whether an earlier attempt sent it: resume later rather
		// than risk sending it twice.
		r.unwind(fmt.Errorf("step %d: read http promise %s: %w", seq, hd.id, err))
	}
	if err == nil {
		// An earlier attempt made this request: its outcome, if any, is
		// kept; a request it left without one follows the recovery rules.
		if p.IdempotencyKeyForCreate != keyOf(d) {
			r.unwind(&permanentError{fmt.Errorf("step %d: http request differs from the one an earlier attempt made at this step (promise %s)", seq, hd.id)})
		}
		r.record(seq, store.OpHTTP, d, hd.id, nil)
		r.flush()
		r.recoverHTTP(hd, hr.Idempotent)
		ret(stack, int32(seq))
		return
	}
	// Intent, then outcome: the request leaves only once its intent is durable.
	r.pending.Creates = append(r.pending.Creates, store.Create{ID: hd.id, Timeout: store.NoTimeout,
		Param: store.Value{Data: req}, IdempotencyKey: keyOf(d), Tags: map[string]string{TagKind: "http"}})
	r.createSeqs = append(r.createSeqs, seq)
	r.pendingHTTP = append(r.pendingHTTP, seq) // before record: it may flush
	r.record(seq, store.OpHTTP, d, hd.id, nil)
	r.flush()
	ret(stack, int32(seq))
}

func callAwait(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	hd := r.handle(int32(stack[0]))
	if hd == nil {
		ret(stack, abi.ErrBadHandle)
		return
	}
	r.awaitAny([]*handle{hd})
	r.resetStep()
	r.stepResume()
	ret(stack, r.settledState(hd))
}

func callAwaitAny(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	n := int32(stack[1])
	if n <= 0 || n > 4096 {
		ret(stack, abi.ErrBadArgument)
		return
	}
	raw, ok := mem.Read(uint32(stack[0]), uint32(n)*4)
	if !ok {
		ret(stack, abi.ErrBadMemory)
		return
	}
	hs := make([]*handle, n)
	for i := range hs {
		if hs[i] = r.handle(int32(binary.LittleEndian.Uint32(raw[4*i:]))); hs[i] == nil {
			ret(stack, abi.ErrBadHandle)
			return
		}
	}
	d := digest(store.OpAwaitAny, raw)
	seq, e := r.step(store.OpAwaitAny, d)
	var winner int
	if e != nil && len(e.Outcome) == 4 {
		winner = int(binary.BigEndian.Uint32(e.Outcome))
		if winner >= len(hs) {
			r.unwind(&permanentError{fmt.Errorf("journal of %s: await_any at step %d names index %d of %d", r.exec.ID, seq, winner, len(hs))})
		}
		r.awaitAny(hs[winner : winner+1])
	} else {
		winner = r.awaitAny(hs)
		var out [4]byte
		binary.BigEndian.PutUint32(out[:], uint32(winner))
		r.record(seq, store.OpAwaitAny, d, "", out[:])
	}
	r.settledState(hs[winner])
	r.resetStep()
	r.stepResume()
	ret(stack, int32(winner))
}

// handle returns the promise behind a guest's handle, nil when it is not one.
func (r *run) handle(h int32) *handle {
	if h <= 0 || int(h) > len(r.handles) {
		return nil
	}
	return r.handles[h-1] // nil for a local step (now, random, await_any): not a promise
}

// settledState maps a settled handle to the ABI's state code, advancing
// virtual time once for a sleep that has elapsed.
func (r *run) settledState(hd *handle) int32 {
	hd.awaited = true
	if hd.sleepNs > 0 && !hd.advanced {
		hd.advanced = true
		r.sys.advance(hd.sleepNs)
	}
	switch hd.p.State {
	case store.Resolved:
		return abi.StateResolved
	case store.RejectedCanceled:
		return abi.StateRejectedCanceled
	case store.RejectedTimedout:
		return abi.StateRejectedTimedout
	default:
		return abi.StateRejected
	}
}

func callValue(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	hd := r.handle(int32(stack[0]))
	switch {
	case hd == nil:
		ret(stack, abi.ErrBadHandle)
	case !hd.awaited:
		// Only what the guest awaited: whether the host happens to know a
		// promise settled differs between a first run and a replay.
		ret(stack, abi.ErrNotSettled)
	default:
		ret(stack, copyOut(mem, uint32(stack[1]), uint32(stack[2]), r.value(hd)))
	}
}

func callPromiseID(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	id := r.exec.ID
	if h := int32(stack[0]); h != 0 {
		hd := r.handle(h)
		if hd == nil {
			ret(stack, abi.ErrBadHandle)
			return
		}
		id = hd.id
	}
	ret(stack, copyOut(mem, uint32(stack[1]), uint32(stack[2]), []byte(id)))
}

// digests of calls without arguments, computed once.
var digestNow = digest(store.OpNow)

func callNow(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	seq, e := r.step(store.OpNow, digestNow)
	if e != nil && len(e.Outcome) == 8 {
		stack[0] = binary.BigEndian.Uint64(e.Outcome)
		return
	}
	t := time.Now().UnixNano()
	out := r.outcome8()
	binary.BigEndian.PutUint64(out, uint64(t))
	r.recordAt(seq, store.OpNow, digestNow, "", out, t)
	stack[0] = uint64(t)
}

func callRandom(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	buf, n := uint32(stack[0]), uint32(stack[1])
	if n > 4096 {
		ret(stack, abi.ErrTooLarge)
		return
	}
	if _, ok := mem.Read(buf, n); !ok {
		ret(stack, abi.ErrBadMemory)
		return
	}
	d := digest(store.OpRandom, be64(int64(n)))
	seq, e := r.step(store.OpRandom, d)
	var b []byte
	if e != nil && len(e.Outcome) == int(n) {
		b = e.Outcome
	} else {
		b = make([]byte, n)
		rand.Read(b)
		r.record(seq, store.OpRandom, d, "", b)
	}
	mem.Write(buf, b)
	ret(stack, 0)
}

func callLog(ctx context.Context, mem engine.Memory, stack []uint64) {
	r := runOf(ctx)
	n := min(uint32(stack[2]), 4096)
	if b, ok := mem.Read(uint32(stack[1]), n); ok {
		r.logGuest(int32(stack[0]), b)
	}
}
