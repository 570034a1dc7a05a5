package notify

import (
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

func TestModelFailureNotified(t *testing.T) {
	running := func(ms ...status.ModelState) status.Status {
		return status.Status{State: status.Running, PID: 5, Models: ms}
	}
	loaded := status.ModelState{ID: "qwen", State: status.ModelLoaded}
	broken := status.ModelState{ID: "big", State: status.ModelFailed, LastError: "exited with status 134: llama_model_load: error loading model: unknown model architecture: 'x'"}
	var d decider
	steps := []struct {
		next   status.Status
		level  status.NotifyLevel
		notify bool
	}{
		{running(loaded), status.NotifyFailures, false}, // first status, no failure
		{running(loaded, status.ModelState{ID: "big", State: status.ModelLoading}), status.NotifyFailures, false},
		{running(loaded, broken), status.NotifyFailures, true},
		{running(loaded, broken), status.NotifyAll, false}, // the same failure again
		{running(loaded, status.ModelState{ID: "big", State: status.ModelLoading}), status.NotifyAll, false},
		{running(loaded, broken), status.NotifyOff, false},
	}
	for i, s := range steps {
		m, ok := d.step(s.level, s.next)
		if ok != s.notify {
			t.Fatalf("step %d: notify %v, want %v (%+v)", i, ok, s.notify, m)
		}
		if ok {
			if m.Summary != "Model big failed to load" || !strings.Contains(m.Body, "unknown model architecture") ||
				!strings.Contains(m.Body, "update llama.cpp") || !strings.Contains(m.Body, "keeps running") ||
				len(m.Actions) != 1 || m.Actions[0].Key != ActionOpenLog || !strings.Contains(m.TextBody(), "`ocm-tray logs`") {
				t.Fatalf("message %+v", m)
			}
		}
	}
}

func TestModelHint(t *testing.T) {
	for err, want := range map[string]string{
		"exited with status 1: ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer": "Not enough memory",
		"exited with status 137": "out-of-memory killer",
		"exited with status 134: gguf_init_from_file_impl: invalid magic characters": "download it again",
		"exited with status 1": "",
	} {
		if got := modelHint(err); !strings.Contains(got, want) || (want == "" && got != "") {
			t.Errorf("modelHint(%q) = %q", err, got)
		}
	}
}
