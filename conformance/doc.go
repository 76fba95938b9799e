// Package conformance holds the suite that runs every scenario of
// CONTRACT.md for every guest language on every engine, and asserts the
// same results and the same journals. Its code is all tests (package
// conformance_test); this file only documents it.
//
// A language is added by adding conformance/<lang>/guest.wasm, a module
// built with that language's SDK from the sources and build.sh beside it;
// the modules are committed, so the suite needs only Go. Go's guest is
// built from conformance/go by the tests, once. Nothing in the
// tests names a language. The engines are wazero, and wasmtime too in a
// build with -tags wasmtime.
//
// TestConformance deploys each guest on a fresh host and store, invokes
// every scenario at once, checks each outcome against the contract, and
// requires each scenario's journal to be the same on every engine and in
// every language (except where real time or a failed attempt makes them
// differ). TestCrashAndResume starts this test binary again as a host
// process (TestMain runs it as one when REPRISE_CONFORMANCE_CRASH_HOST is
// set), kills it with SIGKILL twice during the crash scenario, lets a third
// start finish it on the same data directory, and checks the result and
// that no child ran twice from scratch: children report a journaled random
// token to an HTTP recorder, and a replayed child resends its token while a
// re-run one would send a new one. BenchmarkGuests measures module size,
// compile, instantiate, a trivial invocation and a journaled step per
// engine and language.
//
// # Concurrency
//
// The Go guest is built once per test binary (a sync.Once). In the crash
// test, the host runs in a child process; a goroutine reads its standard
// output line by line for the progress it reports, and the recorder, an
// httptest server whose handlers the children's requests reach
// concurrently, keeps the tokens under its mutex.
package conformance
