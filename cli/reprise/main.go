package main

import (
	"os"

	"github.com/reprise-wasm/reprise/cli/command"
)

func main() { os.Exit(command.Main()) }
