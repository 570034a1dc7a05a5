//go:build linux

package supervisor

import (
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama/fakellamatest"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestRealLiveView(t *testing.T) {
	cfg := realConfig(t, era2026, fakellama.EnvGenerate+"=1h")
	cfg.Command.Args = append(cfg.Command.Args, "--metrics", "-np", "4")
	cfg.LiveView = true
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, func(st status.Status) bool { return st.Activity.SlotsTotal > 0 })
	if st.State != status.Running || st.Activity.SlotsTotal != 4 || st.Activity.SlotsBusy != 0 || st.Activity.RSSBytes < 1<<20 {
		t.Fatalf("idle activity %+v", st)
	}
	release := fakellamatest.HoldCompletion(t, cfg.Port)
	st = waitFor(t, sub, func(st status.Status) bool { return st.Activity.Busy() })
	if st.Activity.SlotsBusy != 1 {
		t.Fatalf("busy activity %+v", st.Activity)
	}
	release()
	st = waitFor(t, sub, func(st status.Status) bool { return st.Activity.TokensPerSecond > 0 && !st.Activity.Busy() })
	if st.Activity.TokensPerSecond < 30 || st.Activity.TokensPerSecond > 45 { // FAKE_LLAMA_TPS' default, 38.2
		t.Fatalf("tokens/s %v", st.Activity.TokensPerSecond)
	}
}

// Without --metrics, an early build and --no-slots: what the server does
// not offer is left out.
func TestRealLiveViewLeavesOutWhatIsNotOffered(t *testing.T) {
	cfg := realConfig(t)
	cfg.Command.Args = append(cfg.Command.Args, "--no-slots")
	cfg.LiveView = true
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, func(st status.Status) bool { return st.Activity.RSSBytes > 0 })
	if st.Activity.SlotsTotal != 0 || st.Activity.TokensPerSecond != 0 {
		t.Fatalf("activity %+v", st.Activity)
	}
	b, err := st.MarshalJSON()
	if err != nil || strings.Contains(string(b), "slots") || strings.Contains(string(b), "tokens_per_second") || !strings.Contains(string(b), `"rss_bytes":`) {
		t.Fatalf("json %s, %v", b, err)
	}
}

func TestRealLiveViewWithAPIKey(t *testing.T) {
	cfg := realConfig(t)
	cfg.Command.Args = append(cfg.Command.Args, "--api-key", "sekrit")
	cfg.APIKey = "sekrit"
	cfg.LiveView = true
	_, sub, _ := realRun(t, cfg)
	st := waitFor(t, sub, func(st status.Status) bool { return st.Activity.SlotsTotal > 0 })
	if st.Activity.SlotsTotal != 1 {
		t.Fatalf("activity %+v", st.Activity)
	}
}
