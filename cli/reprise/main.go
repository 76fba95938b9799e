// Command reprise runs durable WebAssembly functions on an embedded data
// directory. Install it with
//
//	go install github.com/reprise-wasm/reprise/cli/reprise@latest
//
// and run `reprise --help`. The commands live in package
// github.com/reprise-wasm/reprise/cli/command.
package main

import (
	"os"

	"github.com/reprise-wasm/reprise/cli/command"
)

func main() { os.Exit(command.Main()) }
