package wire

// Promise states, as the API spells them.
const (
	Pending          = "PENDING"
	Resolved         = "RESOLVED"
	Rejected         = "REJECTED"
	RejectedCanceled = "REJECTED_CANCELED"
	RejectedTimedout = "REJECTED_TIMEDOUT"
)

// Headers of the API beyond HTTP's own.
const (
	// HeaderIdempotencyKey, on a create or settle of a promise, makes a
	// repeat of it idempotent; on an invoke without ?id=, the same key
	// invokes the same execution.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderStrict, "true" or "false" (absent), on a create or settle.
	HeaderStrict = "Strict"
	// HeaderState, on an invoke's answer, is the execution's state, e.g.
	// RESOLVED: on a 200 the body is the value's bytes whatever the outcome.
	HeaderState = "Reprise-State"
	// HeaderExecutionID, on an invoke's answer, is the execution's id.
	HeaderExecutionID = "Reprise-Execution-Id"
)

// Value is a promise's param or value: bytes (base64 in JSON) and headers.
type Value struct {
	Headers map[string]string `json:"headers,omitempty"`
	Data    []byte            `json:"data,omitempty"`
}

// Promise is a durable promise; every execution is one, with the
// execution's id.
type Promise struct {
	ID                        string            `json:"id"`
	State                     string            `json:"state"` // PENDING, RESOLVED, REJECTED, REJECTED_CANCELED or REJECTED_TIMEDOUT
	Param                     Value             `json:"param"`
	Value                     Value             `json:"value"`
	Timeout                   int64             `json:"timeout"` // Unix ms
	IdempotencyKeyForCreate   string            `json:"idempotencyKeyForCreate,omitempty"`
	IdempotencyKeyForComplete string            `json:"idempotencyKeyForComplete,omitempty"`
	Tags                      map[string]string `json:"tags,omitempty"`
	CreatedOn                 int64             `json:"createdOn"`             // Unix ms
	CompletedOn               int64             `json:"completedOn,omitempty"` // Unix ms, 0 while pending
}

// CreatePromise is the body of POST /v1/promises. Pointers tell absent
// from zero: id and timeout are required.
type CreatePromise struct {
	ID      *string           `json:"id"`
	Timeout *int64            `json:"timeout"` // Unix ms
	Param   *Value            `json:"param,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// SettlePromise is the body of PATCH /v1/promises/{id}.
type SettlePromise struct {
	State string `json:"state"` // RESOLVED, REJECTED or REJECTED_CANCELED
	Value *Value `json:"value,omitempty"`
}

// PromiseList is a page of GET /v1/promises; Cursor asks for the next,
// absent on the last.
type PromiseList struct {
	Promises []Promise `json:"promises"`
	Cursor   string    `json:"cursor,omitempty"`
}

// ExecutionList is a page of GET /v1/executions: the executions' promises.
type ExecutionList struct {
	Executions []Promise `json:"executions"`
	Cursor     string    `json:"cursor,omitempty"`
}

// Execution is the record of one run of a function for a promise.
type Execution struct {
	ID           string `json:"id"`
	Function     string `json:"function"`
	Module       string `json:"module"` // sha256 of the module, hex
	Entry        string `json:"entry"`
	Parent       string `json:"parent,omitempty"`
	Attempt      uint32 `json:"attempt"`
	AttemptStart int64  `json:"attemptStart"` // Unix ms
	LastError    string `json:"lastError,omitempty"`
}

// ExecutionView is GET /v1/executions/{id}: the execution's promise and
// its record.
type ExecutionView struct {
	Promise   Promise   `json:"promise"`
	Execution Execution `json:"execution"`
}

// Entry is one journaled host call of an execution attempt.
type Entry struct {
	Seq     uint32 `json:"seq"`
	Op      string `json:"op"`     // invoke, sleep, promise, http, await_any, now, random
	Digest  string `json:"digest"` // of the request, hex
	Child   string `json:"child,omitempty"`
	Outcome []byte `json:"outcome,omitempty"` // base64 in JSON
	Time    int64  `json:"time"`              // Unix ms
}

// History is GET /v1/executions/{id}/history: an attempt's journal.
type History struct {
	Entries []Entry `json:"entries"`
}

// Function is a deployed function's latest version.
type Function struct {
	Name      string `json:"name"`
	Version   uint32 `json:"version"`
	Module    string `json:"module"` // sha256 of the module, hex
	Entry     string `json:"entry"`
	CreatedOn int64  `json:"createdOn"` // Unix ms
}

// FunctionList is GET /v1/functions.
type FunctionList struct {
	Functions []Function `json:"functions"`
}

// Invocation is the body of an invoke's 202: the execution started and
// had not settled when the server answered.
type Invocation struct {
	ID    string `json:"id"`
	State string `json:"state"` // PENDING
}

// ErrorBody is the body of every refusal. The HTTP status is the code's
// first three digits (40304 is 403: the promise timed out), so clients
// branch on the finer code while proxies see the status.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Error is a refusal's code and message.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Limit names the tenant limit that refused the request, if one did:
	// module_size, payload_size, rate, storage or disk_reserve.
	Limit string `json:"limit,omitempty"`
}
