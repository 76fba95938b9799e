//go:build wasip1

package reprise

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/reprise-wasm/reprise/abi"
)

// A Promise is a durable promise started by this execution: a child
// execution, a sleep, an external promise or an HTTP request. Starting one
// returns at once; Await blocks until it settles. On replay the host answers
// from its journal, so a promise is never started twice.
type Promise struct {
	handle int32 // 0 when the promise failed before reaching the host
	done   bool
	value  []byte
	err    error
	id     string
}

// failed is a promise that was never started, e.g. because its arguments were
// too large; Await returns err.
func failed(err error) *Promise { return &Promise{done: true, err: err} }

// start wraps the result of a host call that returns a handle.
func start(op string, code int32) *Promise {
	if err := check(op, code); err != nil {
		return failed(err)
	}
	return &Promise{handle: code}
}

// Invoke starts the deployed function name as a child execution with args as
// its input and returns its promise. args is encoded as JSON, except []byte
// and json.RawMessage, which are passed as they are.
func Invoke(name string, args any) *Promise {
	var b []byte
	switch a := args.(type) {
	case []byte:
		b = a
	case json.RawMessage:
		b = a
	default:
		var err error
		if b, err = json.Marshal(args); err != nil {
			return failed(fmt.Errorf("reprise: invoke %s: %w", name, err))
		}
	}
	h := hostInvoke(strPtr(name), uint32(len(name)), ptr(b), uint32(len(b)))
	runtime.KeepAlive(name)
	runtime.KeepAlive(b)
	return start("invoke "+name, h)
}

// After returns a promise that resolves, with an empty value, once d has
// passed. It is a durable timer: it survives crashes and may be raced with Any.
// The host rounds d up to whole milliseconds.
func After(d time.Duration) *Promise {
	return start("sleep", hostSleep(int64(max(d, 0))))
}

// Sleep blocks for d, durably: if the host restarts meanwhile, the execution
// still wakes up d after it first went to sleep. It panics if the host
// refuses the timer (an execution limit).
func Sleep(d time.Duration) {
	if _, err := After(d).Await(); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			panic(err.Error())
		}
		// Canceled by someone outside: wake up early.
	}
}

// NewPromise creates a promise that someone outside the execution settles,
// e.g. a person approving a request through the host's API. Hand them its
// ID. It rejects with state TimedOut after timeout; 0 means never.
func NewPromise(timeout time.Duration) *Promise {
	return start("promise", hostPromise(int64(timeout)))
}

// ID returns the promise's durable id, the name under which others can read
// or settle it. It is empty for a promise that failed before it started.
func (p *Promise) ID() string {
	if p.id == "" && p.handle != 0 {
		p.id = promiseID(p.handle)
	}
	return p.id
}

func promiseID(h int32) string {
	return string(readBytes("promise_id", func(buf, cap uint32) int32 {
		return hostPromiseID(h, buf, cap)
	}))
}

// Await blocks until the promise settles and returns its value. If it was
// rejected, canceled or timed out the error is an *Error. Awaiting again
// returns the same result without asking the host.
func (p *Promise) Await() ([]byte, error) {
	if !p.done {
		p.settle(must("await", hostAwait(p.handle)))
	}
	return p.value, p.err
}

// settle records the outcome of a promise the host reports as settled.
func (p *Promise) settle(state int32) {
	v := readBytes("value", func(buf, cap uint32) int32 {
		return hostValue(p.handle, buf, cap)
	})
	p.done = true
	if state == abi.StateResolved {
		p.value = v
		return
	}
	p.err = newError(State(state), v)
}

// AwaitAs awaits p and decodes its JSON value into a T. An empty value
// decodes as T's zero value.
func AwaitAs[T any](p *Promise) (T, error) {
	var v T
	b, err := p.Await()
	if err != nil || len(b) == 0 {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("reprise: decoding promise value: %w", err)
	}
	return v, nil
}

// All awaits every promise and returns their values in order. If any was
// rejected it returns the first such error (in argument order), still having
// awaited all of them.
func All(ps ...*Promise) ([][]byte, error) {
	vals := make([][]byte, len(ps))
	var first error
	for i, p := range ps {
		v, err := p.Await()
		vals[i] = v
		if err != nil && first == nil {
			first = err
		}
	}
	return vals, first
}

// Any blocks until one of the promises settles and returns its index with
// its value and error, as Await would. The others keep running and can be
// awaited later. If one is already settled it wins without asking the host.
func Any(ps ...*Promise) (int, []byte, error) {
	if len(ps) == 0 {
		panic("reprise: Any of no promises")
	}
	handles := make([]int32, len(ps))
	for i, p := range ps {
		if p.done {
			return i, p.value, p.err
		}
		handles[i] = p.handle
	}
	// An []int32 is the little-endian i32 array the host expects (Wasm is
	// little-endian).
	i := must("await_any", hostAwaitAny(ptr(handles), uint32(len(handles))))
	runtime.KeepAlive(handles)
	if int(i) >= len(ps) {
		panic(fmt.Sprintf("reprise: await_any: index %d out of range", i))
	}
	// await_any says which one settled but not how; await returns at once.
	v, err := ps[i].Await()
	return int(i), v, err
}

// State is how a promise settled.
type State int32

// Settled states, as the host reports them.
const (
	Resolved State = abi.StateResolved
	Rejected State = abi.StateRejected
	Canceled State = abi.StateRejectedCanceled
	TimedOut State = abi.StateRejectedTimedout
)

func (s State) String() string {
	switch s {
	case Resolved:
		return "resolved"
	case Rejected:
		return "rejected"
	case Canceled:
		return "canceled"
	case TimedOut:
		return "timedout"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Error is the error of a promise that did not resolve: it was rejected (by
// the function, or by the host after a trap or a failed HTTP request),
// canceled, or timed out.
type Error struct {
	State   State
	Message string // the "error" field of the rejection value, or the whole value if it has none
	Stack   string // the guest stack, when a trap rejected the promise
	Raw     []byte // the rejection value as the host holds it
}

func newError(s State, raw []byte) *Error {
	e := &Error{State: s, Raw: raw, Message: string(raw)}
	var v struct {
		Error *string `json:"error"`
		Stack string  `json:"stack"`
	}
	if json.Unmarshal(raw, &v) == nil && v.Error != nil {
		e.Message, e.Stack = *v.Error, v.Stack
	}
	return e
}

func (e *Error) Error() string {
	switch {
	case e.State == Rejected && e.Message != "":
		return e.Message
	case e.Message == "":
		return e.State.String()
	}
	return e.State.String() + ": " + e.Message
}
