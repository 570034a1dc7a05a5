//go:build unix

package fakellama_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

func TestSlotsShowProcessing(t *testing.T) {
	t.Parallel()
	p, port := ready(t, []string{fakellama.EnvGenerate + "=1h"}, "-np", "2")
	_ = p
	if code, body := mustGet(t, port, "/slots", ""); code != http.StatusOK || strings.Count(body, `"is_processing":false`) != 2 {
		t.Fatalf("/slots idle: %d %s", code, body)
	}
	release := fakellamatest.HoldCompletion(t, port)
	testenv.Eventually(t, "a busy slot", func() bool {
		_, body := mustGet(t, port, "/slots", "")
		return strings.Count(body, `"is_processing":true`) == 1 && strings.Count(body, `"is_processing":false`) == 1
	})
	release()
	testenv.Eventually(t, "the slot released", func() bool {
		_, body := mustGet(t, port, "/slots", "")
		return strings.Count(body, `"is_processing":false`) == 2
	})
	if code, body := mustGet(t, port, "/props", ""); code != http.StatusOK || !strings.Contains(body, `"total_slots":2`) || !strings.Contains(body, `"endpoint_metrics":false`) {
		t.Fatalf("/props %d %s", code, body)
	}
}

func TestMetricsNeedTheFlag(t *testing.T) {
	t.Parallel()
	_, port := ready(t, nil)
	code, body := mustGet(t, port, "/metrics", "")
	if code != http.StatusNotImplemented || !strings.Contains(body, "Start it with `--metrics`") {
		t.Fatalf("/metrics without --metrics: %d %s", code, body)
	}
	_, port = ready(t, nil, "--no-slots")
	if code, _ := mustGet(t, port, "/slots", ""); code != http.StatusNotImplemented {
		t.Fatalf("/slots with --no-slots: %d", code)
	}
}

// /metrics reports the speed of the completions finished since it was last
// read, and 0 once read.
func TestMetricsThroughput(t *testing.T) {
	t.Parallel()
	_, port := ready(t, []string{fakellama.EnvGenerate + "=20ms", fakellama.EnvTPS + "=50"}, "--metrics")
	// A completion that runs its course (20 ms), not one cut short.
	if resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/completion", port), "application/json", strings.NewReader(`{"prompt":"hi"}`)); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	code, body := mustGet(t, port, "/metrics", "")
	if code != http.StatusOK || !strings.Contains(body, "llamacpp:predicted_tokens_seconds 50\n") {
		t.Fatalf("/metrics after a completion: %d\n%s", code, body)
	}
	if _, body := mustGet(t, port, "/metrics", ""); !strings.Contains(body, "llamacpp:predicted_tokens_seconds 0\n") {
		t.Fatalf("/metrics read twice:\n%s", body)
	}
}

func TestHelpListsMetrics(t *testing.T) {
	t.Parallel()
	for _, era := range []string{fakellama.Era2025, fakellama.Era2026} {
		path, env := fakellamatest.HelperCommand()
		cmd := exec.Command(path, "--help")
		cmd.Env = append(env, fakellama.EnvEra+"="+era)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s --help: %v", era, err)
		}
		if !strings.Contains(string(out), "\n--metrics ") || !strings.Contains(string(out), "--no-slots") {
			t.Fatalf("%s --help:\n%s", era, out)
		}
	}
}
