package notify

import (
	"fmt"
	"strings"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// A model that fails to load in llama-server's router is news on its own:
// the router stays up (its state does not change), so no state
// notification would tell. It is reported at the "failures" and "all"
// levels, once per failure.

// newlyFailed returns the models failed in next that were not failed in
// prev.
func newlyFailed(prev, next status.Status) []status.ModelState {
	before := prev.ModelStates()
	var out []status.ModelState
	for _, m := range next.Models {
		if m.State == status.ModelFailed && before[m.ID].State != status.ModelFailed {
			out = append(out, m)
		}
	}
	return out
}

// ComposeModelFailure writes the notification for a model that failed to
// load: why, what to do, and that the router and its other models carry on.
func ComposeModelFailure(m status.ModelState) Message {
	return Message{
		Summary: fmt.Sprintf("Model %s failed to load", m.ID),
		Body: joinLines(
			"Last error: "+sentence(m.LastError),
			modelHint(m.LastError),
			"llama-server keeps running; the other models are not affected.",
		),
		Actions: []Action{actionOpenLog},
	}
}

// modelHint says what to do about a model's load error, for the causes
// met most often.
func modelHint(lastError string) string {
	l := strings.ToLower(lastError)
	switch {
	case strings.Contains(l, "unknown model architecture"):
		return "This llama.cpp does not know the model's architecture: update llama.cpp."
	case strings.Contains(l, "out of memory") || strings.Contains(l, "failed to allocate") || strings.Contains(l, "unable to allocate"):
		return "Not enough memory: unload other models, or choose a smaller quantisation or a lower ctx_len."
	case strings.Contains(l, "status 137"):
		return "It was killed, most likely by the kernel's out-of-memory killer: unload other models, or choose a smaller quantisation or a lower ctx_len."
	case strings.Contains(l, "invalid magic") || strings.Contains(l, "failed to read") || strings.Contains(l, "corrupted"):
		return "The model file looks damaged: download it again."
	}
	return ""
}
