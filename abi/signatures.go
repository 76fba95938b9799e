package abi

// ValueType is a Wasm value type in a host call's signature, by its
// binary encoding.
type ValueType byte

// The value types host calls use.
const (
	I32 ValueType = 0x7f
	I64 ValueType = 0x7e
)

func (t ValueType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return "?"
}

// Signature is one host call of Module: its name and Wasm type.
type Signature struct {
	Name            string
	Params, Results []ValueType
}

// Signatures lists every host call of Module in ABI.md's order, with the
// types ABI.md gives them (a test checks the two agree). A host implements
// each; a tool can link a guest against stubs of them.
func Signatures() []Signature {
	v := func(ts ...ValueType) []ValueType { return ts }
	return []Signature{
		{ImportInput, v(I32, I32), v(I32)},
		{ImportResolve, v(I32, I32), v(I32)},
		{ImportReject, v(I32, I32), v(I32)},
		{ImportInvoke, v(I32, I32, I32, I32), v(I32)},
		{ImportSleep, v(I64), v(I32)},
		{ImportPromise, v(I64), v(I32)},
		{ImportHTTP, v(I32, I32), v(I32)},
		{ImportAwait, v(I32), v(I32)},
		{ImportAwaitAny, v(I32, I32), v(I32)},
		{ImportValue, v(I32, I32, I32), v(I32)},
		{ImportPromiseID, v(I32, I32, I32), v(I32)},
		{ImportNow, nil, v(I64)},
		{ImportRandom, v(I32, I32), v(I32)},
		{ImportLog, v(I32, I32, I32), nil},
	}
}
