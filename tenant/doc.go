// Package tenant holds who may use a shared Reprise server: tenants, the
// hashes of their API tokens, and their limits, kept in one JSON file that
// `reprise tenant` writes and a running `reprise serve` rereads when it
// changes. A token is shown once, when made; only its SHA-256 is stored (a
// token is 256 random bits, so a fast hash is enough: there is nothing to
// guess).
//
// A [Registry] is that file, opened with [Open]. Readers look tenants up:
// [Registry.Authenticate] maps a bearer token to its [Tenant] (the server,
// on every request), [Registry.Get] and [Registry.List] find them by name.
// Writers change the file (the `reprise tenant` command): [Registry.Create]
// adds a tenant and returns its token, [Registry.Rotate] replaces a token,
// [Registry.SetLimits] changes limits. A [Tenant] is a name (checked by [CheckName]: it names a
// directory of the server's too), a token hash and its [Limits]: memory,
// step time, concurrency, rate of creations, module and payload sizes,
// journal length, storage on disk and an HTTP allowlist. A zero limit means the default
// ([DefaultLimits], filled in by [Limits.WithDefaults]). The package only
// keeps the limits; the server and each tenant's host enforce them.
//
// A server calls [Registry.LogTo] so that a damaged or half-edited file
// does not stop it: readers then keep serving the tenants read before and
// log the error, until the file changes again.
//
// # Concurrency
//
// A Registry is safe for concurrent use and starts no goroutines. There is
// no background refresh: a reader that finds the last look at the file
// older than [RecheckEvery] stats it (one reader per interval wins a
// compare-and-swap on the time of that look; the others use what is loaded)
// and, when it changed, rereads and parses it outside any lock before
// installing the new tenants. Registry.mu guards the loaded maps and the
// stamps of the file version loaded and of the last damaged one; it is held
// only to read or swap them. LogTo sets the logger unguarded: call it before
// the registry is shared.
//
// Writers serialise on an exclusive flock of the file's ".lock" sibling,
// which orders writers in other processes and in this one alike (on systems
// without flock there is no lock, and concurrent writers may race); they
// read the file afresh under it, apply their change and replace the file
// atomically (a temporary file, fsynced, renamed over it).
package tenant
