package wasmbin

import "fmt"

// Call depth: the host memory a guest's recursion takes.
//
// An engine keeps a guest's call stack outside its linear memory, so outside
// the memory limit: wazero grows it on the Go heap, doubling, up to 400 MB
// before it reports a stack overflow, and a few bytes of recursion reach
// that. No engine option bounds it, so the module bounds itself: every call
// that can take part in a recursion adds its callee's frame cost to a
// counter (a mutable global the rewrite adds) before the call and takes it
// off after, and a call that would pass the budget calls a function the
// rewrite adds whose body is `unreachable`. A trap in that function is the
// guest's stack overflow (DepthLimit.Guard).
//
// Which calls can recurse: a recursion is a cycle of calls. A cycle of
// direct calls lies within one strongly connected component of the direct
// call graph, so every direct call between two functions of a component
// with a cycle counts; any other cycle has an indirect call in it, so every
// indirect call counts. A chain of calls without a cycle is as deep as the
// module has functions, so it is bounded by the module's size, which the
// host bounds and charges for. Tail calls (return_call*) replace their
// frame and count nothing.
//
// A frame's cost is in 8-byte slots: a few for the frame itself, one per
// parameter and local (two for v128), and one per bodyBytesPerSlot bytes of
// body, for the operand-stack values an engine spills across a call; an
// indirect call counts the largest cost of any function.

// DepthLimit is the call-depth rewrite's outcome.
type DepthLimit struct {
	// Guard is the index of the function a call past the budget calls;
	// a trap whose innermost frame is it is a stack overflow. Zero with
	// Counted zero.
	Guard uint32
	// Counted is how many call sites count toward the budget.
	Counted int
}

const (
	frameSlots       = 8 // return address, frame pointer, spills: measured on wazero
	bodyBytesPerSlot = 8
)

// funcInfo is what the rewrite knows of a defined function.
type funcInfo struct {
	body  [2]int // the body's span, after its size
	code  int    // where its instructions start
	cost  uint32 // in slots
	calls []callSite
}

// callSite is a call in a body: the span of the instruction, and for a
// direct call its callee.
type callSite struct {
	at, end  int
	indirect bool
	callee   uint32
}

// limitDepth returns the section edits that make wasm bound its call depth
// to budget slots, and what they did; no edits when nothing can recurse.
func (m *Module) limitDepth(wasm []byte, budget uint32) ([]edit, DepthLimit, error) {
	code := m.sections[10]
	if code == [2]int{} || budget == 0 {
		return nil, DepthLimit{}, nil
	}
	params, err := m.paramSlots(wasm)
	if err != nil {
		return nil, DepthLimit{}, err
	}
	types, err := m.funcTypes(wasm)
	if err != nil {
		return nil, DepthLimit{}, err
	}
	funcs, err := m.bodies(wasm, types, params)
	if err != nil {
		return nil, DepthLimit{}, err
	}
	comp := m.cycles(funcs)
	var maxCost uint32
	for _, f := range funcs {
		maxCost = max(maxCost, f.cost)
	}

	nFuncs := m.funcImports + uint32(len(funcs))
	guard := nFuncs
	global := m.globalImports + m.definedGlobals(wasm)
	counted := 0
	var out []byte
	out = uleb32(out, uint32(len(funcs))+1)
	for i, f := range funcs {
		body := append([]byte(nil), wasm[f.body[0]:f.code]...)
		at := f.code
		for _, c := range f.calls {
			cost := maxCost
			if !c.indirect {
				w := int64(c.callee) - int64(m.funcImports)
				if w < 0 || w >= int64(len(funcs)) || comp[i] < 0 || comp[i] != comp[w] {
					continue
				}
				cost = funcs[w].cost
			}
			counted++
			body = append(body, wasm[at:c.at]...)
			body = countCall(body, global, guard, cost, budget, wasm[c.at:c.end])
			at = c.end
		}
		body = append(body, wasm[at:f.body[1]]...)
		out = append(uleb32(out, uint32(len(body))), body...)
	}
	if counted == 0 {
		return nil, DepthLimit{}, nil
	}
	// The guard: no locals, unreachable, end.
	out = append(uleb32(out, 3), 0x00, opUnreachable, opEnd)

	edits := []edit{{span: code, with: encodeSection(10, out)}}
	typeIdx, typeEdit := m.appendEntry(wasm, 1, []byte{0x60, 0, 0})
	edits = append(edits, typeEdit)
	_, funcEdit := m.appendEntry(wasm, 3, uleb32(nil, typeIdx))
	edits = append(edits, funcEdit)
	// A mutable i32 that starts at 0.
	_, globalEdit := m.appendEntry(wasm, 6, []byte{0x7f, 0x01, opI32Const, 0x00, opEnd})
	edits = append(edits, globalEdit)
	return edits, DepthLimit{Guard: guard, Counted: counted}, nil
}

// countCall appends call (the bytes of a call instruction) to b, with the
// counting around it: add cost, call the guard past budget, call, take
// cost off.
func countCall(b []byte, global, guard, cost, budget uint32, call []byte) []byte {
	b = uleb32(append(b, opGlobalGet), global)
	b = sleb32(append(b, opI32Const), cost)
	b = append(b, opI32Add, opGlobalSet)
	b = uleb32(b, global)
	b = uleb32(append(b, opGlobalGet), global)
	b = sleb32(append(b, opI32Const), budget)
	b = append(b, opI32GtU, opIf, blockEmpty, opCall)
	b = uleb32(b, guard)
	b = append(b, opEnd)
	b = append(b, call...)
	b = uleb32(append(b, opGlobalGet), global)
	b = sleb32(append(b, opI32Const), cost)
	b = append(b, opI32Sub, opGlobalSet)
	return uleb32(b, global)
}

// paramSlots returns the parameter slots of every type of the type
// section.
func (m *Module) paramSlots(wasm []byte) ([]uint32, error) {
	span := m.sections[1]
	if span == [2]int{} {
		return nil, nil
	}
	r := reader{b: wasm[:span[1]], i: span[0]}
	r.byte()
	r.u32()
	var slots []uint32
	funcType := func() {
		r.byte() // 0x60, checked by Read
		var n uint32
		for k := r.u32(); k > 0 && r.err == nil; k-- {
			n += valSlots(r.b[r.i])
			r.valType()
		}
		for k := r.u32(); k > 0 && r.err == nil; k-- {
			r.valType()
		}
		slots = append(slots, n)
	}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if r.i < len(r.b) && r.b[r.i] == 0x4e {
			r.i++
			for k := r.u32(); k > 0 && r.err == nil; k-- {
				funcType()
			}
			continue
		}
		funcType()
	}
	return slots, r.err
}

// valSlots is the 8-byte slots of a value type.
func valSlots(t byte) uint32 {
	if t == 0x7b { // v128
		return 2
	}
	return 1
}

// funcTypes returns the type index of every defined function.
func (m *Module) funcTypes(wasm []byte) ([]uint32, error) {
	span := m.sections[3]
	if span == [2]int{} {
		return nil, nil
	}
	r := reader{b: wasm[:span[1]], i: span[0]}
	r.byte()
	r.u32()
	var types []uint32
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		types = append(types, r.u32())
	}
	return types, r.err
}

// definedGlobals counts the globals of the global section.
func (m *Module) definedGlobals(wasm []byte) uint32 {
	span := m.sections[6]
	if span == [2]int{} {
		return 0
	}
	r := reader{b: wasm[:span[1]], i: span[0]}
	r.byte()
	r.u32()
	return r.u32()
}

// bodies reads every function body: its cost and its calls.
func (m *Module) bodies(wasm []byte, types, params []uint32) ([]funcInfo, error) {
	span := m.sections[10]
	r := reader{b: wasm[:span[1]], i: span[0]}
	r.byte()
	r.u32()
	n := r.u32()
	if int(n) != len(types) {
		return nil, fmt.Errorf("the code section has %d bodies for %d functions", n, len(types))
	}
	funcs := make([]funcInfo, 0, n)
	for i := range n {
		size := r.u32()
		if r.err != nil || uint64(size) > uint64(len(r.b)-r.i) {
			return nil, fmt.Errorf("function body %d runs past the end", i)
		}
		f := funcInfo{body: [2]int{r.i, r.i + int(size)}}
		body := reader{b: r.b[:f.body[1]], i: r.i}
		var locals uint64
		for k := body.u32(); k > 0 && body.err == nil; k-- {
			c := uint64(body.u32())
			if body.i < len(body.b) {
				locals += c * uint64(valSlots(body.b[body.i]))
			}
			body.valType()
		}
		f.code = body.i
		for body.err == nil && body.i < f.body[1] {
			at := body.i
			op, idx := body.instr()
			switch op {
			case opCall:
				f.calls = append(f.calls, callSite{at: at, end: body.i, callee: idx})
			case opCallIndirect, opCallRef:
				f.calls = append(f.calls, callSite{at: at, end: body.i, indirect: true})
			}
		}
		if body.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, body.err)
		}
		var p uint32
		if t := types[i]; int(t) < len(params) {
			p = params[t]
		}
		cost := uint64(frameSlots) + uint64(p) + locals + uint64(size)/bodyBytesPerSlot
		f.cost = uint32(min(cost, 1<<30))
		funcs = append(funcs, f)
		r.i = f.body[1]
	}
	return funcs, r.err
}

// cycles returns, for each defined function, the strongly connected
// component of the direct call graph it is in when that component has a
// cycle (more than one function, or one calling itself), and -1 when not.
// It is Tarjan's algorithm, without recursion (a module may chain a million
// functions).
func (m *Module) cycles(funcs []funcInfo) []int {
	n := len(funcs)
	const unvisited = -1
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = unvisited
	}
	out := make([]int, n)
	selfCall := make([]bool, n)
	var stack []int
	type frame struct{ v, next int }
	next := 0
	for root := range n {
		if index[root] != unvisited {
			continue
		}
		work := []frame{{v: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(work) > 0 {
			fr := &work[len(work)-1]
			v := fr.v
			if fr.next < len(funcs[v].calls) {
				c := funcs[v].calls[fr.next]
				fr.next++
				if c.indirect || c.callee < m.funcImports || int(c.callee-m.funcImports) >= n {
					continue
				}
				w := int(c.callee - m.funcImports)
				if w == v {
					selfCall[v] = true
				}
				if index[w] == unvisited {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					work = append(work, frame{v: w})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			work = work[:len(work)-1]
			if len(work) > 0 {
				u := work[len(work)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				k := len(stack) - 1
				for stack[k] != v {
					k--
				}
				comp := -1
				if len(stack)-k > 1 || selfCall[v] {
					comp = v
				}
				for _, w := range stack[k:] {
					onStack[w] = false
					out[w] = comp
				}
				stack = stack[:k]
			}
		}
	}
	return out
}

// appendEntry returns the edit that appends entry to the vector section
// id (creating the section where it belongs when there is none), and the
// new entry's index among the section's entries.
func (m *Module) appendEntry(wasm []byte, id byte, entry []byte) (uint32, edit) {
	span := m.sections[id]
	if span == [2]int{} {
		return 0, edit{span: [2]int{m.insertAt(id), m.insertAt(id)}, with: encodeSection(id, append(uleb32(nil, 1), entry...))}
	}
	r := reader{b: wasm[:span[1]], i: span[0]}
	r.byte()
	r.u32()
	n := r.u32()
	payload := append(uleb32(nil, n+1), wasm[r.i:span[1]]...)
	return n, edit{span: span, with: encodeSection(id, append(payload, entry...))}
}

// sectionOrder is the order of the non-custom sections in a module.
var sectionOrder = [...]byte{1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11}

// insertAt is where a section id that the module lacks goes: after the
// last section that comes before it, or after the preamble.
func (m *Module) insertAt(id byte) int {
	at := 8
	for _, s := range sectionOrder {
		if s == id {
			break
		}
		if m.sections[s] != [2]int{} {
			at = m.sections[s][1]
		}
	}
	return at
}

// section encodes a section: its id, its size, its payload.
func encodeSection(id byte, payload []byte) []byte {
	return append(uleb32([]byte{id}, uint32(len(payload))), payload...)
}

// sleb32 appends v, at most 2^31-1, as the signed LEB128 of i32.const.
func sleb32(b []byte, v uint32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if x == 0 && c&0x40 == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
