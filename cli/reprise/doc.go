// Command reprise runs durable WebAssembly functions on an embedded data
// directory, or serves them to tenants over HTTP. Install it with
//
//	go install github.com/reprise-wasm/reprise/cli/reprise@latest
//
// and run `reprise --help`. The commands live in package
// github.com/reprise-wasm/reprise/cli/command; this package is only the
// main function that runs them on the process's arguments and exits with
// their code. Its tests build the binary and run it as a user would,
// including kill -9 in the middle of executions.
package main
