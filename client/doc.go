// Package client is a Go client of the Reprise HTTP API (/v1, served by
// `reprise serve` and described in server/openapi.json): deploy functions,
// invoke them, inspect and cancel executions, and create, settle and search
// durable promises. The reprise command's --server mode is built on it.
//
// [New] returns a [Client] for one server's base URL, configured by
// [Options] (a bearer token, a per-request timeout, the http.Client to send
// with). Its methods follow the API's resources: [Client.Deploy] and
// [Client.Functions] for functions; [Client.Invoke] (optionally waiting for
// the result, an [Invocation]), [Client.Execution], [Client.History] (the
// journal, as [Entry] values) and [Client.Cancel] for executions;
// [Client.CreatePromise], [Client.Settle], [Client.Promise] and
// [Client.Promises] for promises; [Client.Ready] for /readyz. Searches take
// a [Query] and return a page and the cursor of the next. The types are the
// API's JSON, not the store's: states are strings ([Pending], [Resolved],
// …), times Unix milliseconds.
//
// Every method takes a context first. A request the server refused comes
// back as a *Error holding the HTTP status and the API's error code and
// message, so callers branch with errors.As ([IsNotFound] for a 404); a
// request that never got an answer (the server is unreachable, the context
// ended) comes back as the transport's error, wrapped. The client never
// retries: a caller that does should send an idempotency key
// ([InvokeOptions], [CreatePromise], [Settle]) so that a repeat is
// recognised.
//
// # Concurrency
//
// A Client holds no mutable state: it is safe for concurrent use, and
// starts no goroutines or locks of its own. Each call is one HTTP request,
// bounded by the client's timeout (plus an invoke's wait) through a context
// of its own. Connections are pooled by the http.Client's transport: with
// Options.HTTPClient nil, a transport belonging to this Client, whose idle
// connections (and net/http's goroutines behind them) stay open up to 90s
// after use. There is no Close, so make one Client per server and share it
// rather than one per call.
package client
