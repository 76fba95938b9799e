//go:build wasip1

// Approval waits, durably and for up to a day, for someone to approve or
// reject a request: it creates a promise that someone outside settles and
// logs its id for them.
//
// Input: {"request":"deploy v2"}. Resolving the logged promise id with, say,
// {"name":"Grace"} returns {"approved":true,"request":"deploy v2","by":{"name":"Grace"}};
// rejecting it (or 24 hours passing) returns {"approved":false,"reason":"..."}.
//
// Run it with:
//
//	reprise deploy approval examples/wasm/approval
//	reprise invoke approval --input '{"request":"deploy v2"}'   # logs the promise id
//	reprise resolve ID --value '{"name":"Grace"}'
//
// It is a Go program built for wasip1 as a reactor (reprise run and
// reprise deploy build it), using the guest SDK, package
// github.com/reprise-wasm/reprise/guest-sdk/go/reprise; its handler is
// registered in init and runs on the one goroutine of the module.
package main
