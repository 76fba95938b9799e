// Package wire is the JSON of Reprise's HTTP API (/v1): the shapes the
// server writes and reads and the client reads and writes, declared once.
// server/openapi.json documents the same shapes under the same names.
//
// The promise shapes follow Resonate's durable promise API
// (PROMISE-API.md): data is bytes, base64 in JSON; times are Unix
// milliseconds; a state is one of the State constants. The rest are
// Reprise's own:
//
//	Promise, Value           a durable promise (every execution is one), its param or value
//	CreatePromise            the body of POST /v1/promises
//	SettlePromise            the body of PATCH /v1/promises/{id}
//	PromiseList              a page of GET /v1/promises
//	ExecutionList            a page of GET /v1/executions
//	ExecutionView, Execution GET /v1/executions/{id}: the promise and the execution's record
//	History, Entry           GET /v1/executions/{id}/history: an attempt's journal
//	Function, FunctionList   a deployed function's latest version; GET /v1/functions
//	Invocation               the 202 of an invoke that has not settled (a settled one
//	                         answers 200 with the value's bytes and the HeaderState header)
//	ErrorBody, Error         every refusal: {"error":{"code":NNNNN,"message":"..."}}
//
// The package holds types and constants only and imports nothing but the
// standard library, so a client pays for no more than it speaks. Mapping to
// and from the store's types is the server's business (server/wire.go).
package wire
