// Package names is the one rule of what a name or an id is in Reprise, and
// the one place new ids are made.
//
// A function's name, an execution's id, a promise's id: each may become a
// path segment of the HTTP API (/v1/functions/{name}), a key in the store, a
// glob's subject (search by id takes '*' as a wildcard) and a word in a log
// line. Check refuses what would break one of those: the empty string and
// strings over MaxLen bytes, spaces and control characters, '/' and '\'
// (path separators), '*' (a glob), invalid UTF-8 and U+FFFD (what invalid
// UTF-8 decodes to), and "." and ".." (a path's own directory and its
// parent). Every refusal is an *Error that wraps ErrInvalid, so callers
// branch with errors.Is(err, names.ErrInvalid) and may show Error.Reason
// in a message of their own.
//
// The host checks function names and execution ids with Check (its
// ErrBadName is ErrInvalid); the server checks them first, to answer 400
// naming the field; a tenant's name obeys Check and a narrower rule of its
// own, since it names a directory (tenant.CheckName).
//
// NewID makes an execution id when the caller gives none: 24 hex digits of
// crypto/rand, which Check accepts. The host uses it, and so does the
// command line, which picks the id before it invokes: it can then show the
// execution's progress while it waits, and knows the id even when a
// server's answer is lost.
package names
