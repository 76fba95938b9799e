//go:build wasmtime

package wasmtimeengine

import (
	"encoding/binary"
	"io"

	"github.com/reprise-wasm/reprise/engine"
)

// The WASI calls that would let a guest see the machine (clocks, randomness,
// sleeping, output, exit) are answered here from the instance's engine.Sys.
// They behave as wazero's do with the Sys that wazeroengine configures, so a
// guest makes the same calls, and sees the same values, on either engine.

const wasiModule = "wasi_snapshot_preview1"

// WASI errno values.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoIO      = 29
	errnoNotsup  = 58
)

// WASI clock ids.
const (
	clockRealtime  = 0
	clockMonotonic = 1
)

type wasiFunc struct {
	name            string
	params, results []engine.ValueType
	fn              hostFunc
}

var wasiShadows = func() []wasiFunc {
	i32, i64 := engine.I32, engine.I64
	p := func(ts ...engine.ValueType) []engine.ValueType { return ts }
	return []wasiFunc{
		{"clock_res_get", p(i32, i32), p(i32), clockResGet},
		{"clock_time_get", p(i32, i64, i32), p(i32), clockTimeGet},
		{"random_get", p(i32, i32), p(i32), randomGet},
		{"poll_oneoff", p(i32, i32, i32, i32), p(i32), pollOneoff},
		{"sched_yield", nil, p(i32), schedYield},
		{"fd_write", p(i32, i32, i32, i32), p(i32), fdWrite},
		{"proc_exit", p(i32), nil, procExit},
	}
}()

var le = binary.LittleEndian

func putU32(mem engine.Memory, off, v uint32) bool {
	b, ok := mem.Read(off, 4)
	if ok {
		le.PutUint32(b, v)
	}
	return ok
}

func putU64(mem engine.Memory, off uint32, v uint64) bool {
	b, ok := mem.Read(off, 8)
	if ok {
		le.PutUint64(b, v)
	}
	return ok
}

func errno(stack []uint64, e uint32) { stack[0] = uint64(e) }

// clockResGet is clock_res_get(id, result_ptr): the virtual clocks tick in
// nanoseconds.
func clockResGet(in *instance, stack []uint64) {
	switch uint32(stack[0]) {
	case clockRealtime, clockMonotonic:
	default:
		errno(stack, errnoInval)
		return
	}
	if !putU64(&in.view, uint32(stack[1]), 1) {
		errno(stack, errnoFault)
		return
	}
	errno(stack, errnoSuccess)
}

// clockTimeGet is clock_time_get(id, precision, result_ptr).
func clockTimeGet(in *instance, stack []uint64) {
	var t int64
	switch uint32(stack[0]) {
	case clockRealtime:
		sec, nsec := in.sys.Walltime()
		t = sec*1e9 + int64(nsec)
	case clockMonotonic:
		t = in.sys.Nanotime()
	default:
		errno(stack, errnoInval)
		return
	}
	if !putU64(&in.view, uint32(stack[2]), uint64(t)) {
		errno(stack, errnoFault)
		return
	}
	errno(stack, errnoSuccess)
}

// randomGet is random_get(buf, len), from the instance's seeded source.
func randomGet(in *instance, stack []uint64) {
	b, ok := in.view.Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		errno(stack, errnoFault)
		return
	}
	if _, err := io.ReadFull(in.sys, b); err != nil {
		errno(stack, errnoIO)
		return
	}
	errno(stack, errnoSuccess)
}

// schedYield is sched_yield(): there is no one to yield to.
func schedYield(in *instance, stack []uint64) { errno(stack, errnoSuccess) }

// fdWrite is fd_write(fd, iovs, iovs_len, result_nwritten) for stdout and
// stderr; no other descriptor can be written (there are no files).
func fdWrite(in *instance, stack []uint64) {
	var w io.Writer
	switch int32(stack[0]) {
	case 1:
		w = in.sys.Stdout()
	case 2:
		w = in.sys.Stderr()
	default:
		errno(stack, errnoBadf)
		return
	}
	iovs, count := uint32(stack[1]), uint32(stack[2])
	vec, ok := in.view.Read(iovs, count*8)
	if !ok || count > 1<<29 {
		errno(stack, errnoFault)
		return
	}
	var n uint32
	for i := uint32(0); i < count; i++ {
		b, ok := in.view.Read(le.Uint32(vec[i*8:]), le.Uint32(vec[i*8+4:]))
		if !ok {
			errno(stack, errnoFault)
			return
		}
		m, err := w.Write(b)
		n += uint32(m)
		if err != nil {
			errno(stack, errnoIO)
			return
		}
	}
	if !putU32(&in.view, uint32(stack[3]), n) {
		errno(stack, errnoFault)
		return
	}
	errno(stack, errnoSuccess)
}

// WASI event types of poll_oneoff subscriptions.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2
)

// pollOneoff is poll_oneoff(in, out, nsubscriptions, result_nevents). It
// never blocks: stdin is empty, so reading it is always ready (at its end),
// and a clock subscription sleeps in virtual time, which returns at once.
// As in wazero, only relative clock timeouts are supported and writes report
// ENOTSUP for the standard descriptors.
func pollOneoff(in *instance, stack []uint64) {
	subs, out, nsubs, resultNevents := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if nsubs == 0 {
		errno(stack, errnoInval)
		return
	}
	if nsubs > 1<<20 {
		errno(stack, errnoFault)
		return
	}
	inBuf, ok := in.view.Read(subs, nsubs*48)
	if !ok {
		errno(stack, errnoFault)
		return
	}
	outBuf, ok := in.view.Read(out, nsubs*32)
	if !ok {
		errno(stack, errnoFault)
		return
	}
	// A subscription is userdata u64, tag u8 at 8, its fields from 16; an
	// event is userdata u64, errno u16 at 8, type u8 at 10, padded to 32.
	sleep := int64(-1)
	for i := uint32(0); i < nsubs; i++ {
		sub, ev := inBuf[i*48:(i+1)*48], outBuf[i*32:(i+1)*32]
		kind := sub[8]
		var e uint16
		switch kind {
		case eventClock:
			timeout, flags := le.Uint64(sub[24:]), le.Uint16(sub[40:])
			switch flags {
			case 0:
			case 1: // absolute time: not supported, as in wazero
				errno(stack, errnoNotsup)
				return
			default:
				errno(stack, errnoInval)
				return
			}
			if t := int64(min(timeout, 1<<63-1)); sleep < 0 || t < sleep {
				sleep = t
			}
		case eventFdRead, eventFdWrite:
			fd := int32(le.Uint32(sub[16:]))
			switch {
			case fd < 0:
				errno(stack, errnoBadf)
				return
			case fd > 2:
				e = errnoBadf
			case kind == eventFdWrite:
				e = errnoNotsup
			}
		default:
			errno(stack, errnoInval)
			return
		}
		clear(ev)
		copy(ev, sub[:8])
		le.PutUint16(ev[8:], e)
		ev[10] = kind
	}
	if !putU32(&in.view, resultNevents, nsubs) {
		errno(stack, errnoFault)
		return
	}
	if sleep > 0 {
		in.sys.Nanosleep(sleep)
	}
	errno(stack, errnoSuccess)
}

// procExit is proc_exit(code). It unwinds the guest by panicking with an
// *engine.ExitError, which Call returns (see hostPanic).
func procExit(in *instance, stack []uint64) {
	panic(&engine.ExitError{Code: uint32(stack[0])})
}
