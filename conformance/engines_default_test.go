//go:build !wasmtime

package conformance_test

// engines lists the engines of this build: wazero only, unless built with
// -tags wasmtime.
func engines() []engineChoice { return []engineChoice{wazero()} }
