// Command fake-llama-server is the fake llama.cpp llama-server of package
// fakellama as a stand-alone executable, for tests and benchmarks that need a
// separate binary. Its flags, markers and FAKE_LLAMA_* knobs are documented
// in package fakellama.
package main

import (
	"os"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
)

func main() {
	os.Exit(fakellama.Main(os.Args[1:]))
}
