package abi

// Version is the ABI version this package describes.
const Version = 1

// Module is the Wasm import module every host call lives in. The version is
// part of the name, so a guest built for another ABI version fails to link
// with a clear error instead of misbehaving.
const Module = "reprise_v1"

// ModulePrefix is what every Reprise import module name starts with; a guest
// importing Module's siblings (reprise_v2, ...) was built for another version.
const ModulePrefix = "reprise_"

// DefaultEntry is the export the host calls when a function names none.
const DefaultEntry = "run"

// Import names, all in Module. Their types are in ABI.md and Signatures.
const (
	ImportInput     = "input"
	ImportResolve   = "resolve"
	ImportReject    = "reject"
	ImportInvoke    = "invoke"
	ImportSleep     = "sleep"
	ImportPromise   = "promise"
	ImportHTTP      = "http"
	ImportAwait     = "await"
	ImportAwaitAny  = "await_any"
	ImportValue     = "value"
	ImportPromiseID = "promise_id"
	ImportNow       = "now"
	ImportRandom    = "random"
	ImportLog       = "log"
)

// Settled states returned by await. A promise's value is read with value().
const (
	StateResolved         = 1
	StateRejected         = 2
	StateRejectedCanceled = 3
	StateRejectedTimedout = 4
)

// Error codes: host calls return them as negative i32 results.
const (
	ErrBadHandle   = -1 // the handle was never returned to this execution attempt
	ErrBadMemory   = -2 // a pointer/length pair lies outside guest memory
	ErrTooLarge    = -3 // a payload is over the host's size limit
	ErrBadArgument = -4 // an argument is malformed (empty name, bad JSON, negative duration)
	ErrNotSettled  = -5 // value() of a promise that has not been awaited to settlement
	ErrLimit       = -6 // a per-execution limit (handles, fan-out, journal length) is reached
	ErrAlreadySet  = -7 // resolve or reject was already called
	ErrDisabled    = -8 // the capability (e.g. http) is not granted to this function
)

// Log levels accepted by log().
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// ErrorText describes an error code for humans; SDKs may mirror it.
func ErrorText(code int32) string {
	switch code {
	case ErrBadHandle:
		return "bad handle"
	case ErrBadMemory:
		return "pointer outside guest memory"
	case ErrTooLarge:
		return "payload too large"
	case ErrBadArgument:
		return "bad argument"
	case ErrNotSettled:
		return "promise not settled"
	case ErrLimit:
		return "limit reached"
	case ErrAlreadySet:
		return "result already set"
	case ErrDisabled:
		return "capability not granted"
	}
	return "unknown error"
}

// HTTPRequest is the JSON body a guest passes to http(). Body is raw bytes
// (base64 in JSON).
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
	// Idempotent marks a request the host may send again when a crash left
	// its outcome unknown. Otherwise such a step fails with "interrupted".
	Idempotent bool `json:"idempotent,omitempty"`
	// TimeoutMillis bounds the request; the host caps it.
	TimeoutMillis int64 `json:"timeout_ms,omitempty"`
}

// HTTPResponse is the JSON value of a resolved http() promise. Transport
// failures reject the promise with an Error value instead.
type HTTPResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// Error is the JSON shape of every rejection value the host writes (guest
// traps, timeouts, cancellations, http transport failures). Guests rejecting
// through an SDK use it too.
type Error struct {
	Message string `json:"error"`
	// Stack is the guest stack of a trap, when the host has one.
	Stack string `json:"stack,omitempty"`
}
