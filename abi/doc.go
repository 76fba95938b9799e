// Package abi holds the constants of the Reprise guest ABI, version 1, shared
// by the host and the Go guest SDK. ABI.md in this folder is the
// specification an SDK author implements from; this package must agree with
// it (a test checks the host calls' types against the document).
//
// It holds names and numbers, no behaviour: the import module every host
// call lives in ([Module], whose name carries the version); the names of
// the host calls (Import*) and their Wasm types ([Signatures], in ABI.md's
// order: a [Signature] each, of [ValueType] values); the states await
// returns (State*); the negative error codes host calls return (Err*,
// described by [ErrorText]); the log levels; and the JSON shapes that cross
// the boundary as bytes: [HTTPRequest] and [HTTPResponse] for http(),
// [Error] for every rejection value the host writes. The package is plain
// Go that builds for the host and for wasip1 alike; it has no state and no
// concurrency.
package abi
