package fakellama_test

import (
	"os"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
)

func TestMain(m *testing.M) {
	fakellama.RunIfHelper() // fakellamatest's init already does it; shown here as the pattern
	code := m.Run()
	fakellamatest.Cleanup()
	os.Exit(code)
}
