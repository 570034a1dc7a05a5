package status

// ModelState is one model as llama-server's router reports it (router
// mode): its ID (the file name without .gguf), its state, and for a model
// that failed to load, why.
type ModelState struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
}

// The router's model states.
const (
	ModelUnloaded    = "unloaded"
	ModelLoading     = "loading"
	ModelLoaded      = "loaded"
	ModelSleeping    = "sleeping"
	ModelDownloading = "downloading"
	ModelFailed      = "failed"
)

// ModelStates indexes Models by ID (nil outside router mode).
func (s Status) ModelStates() map[string]ModelState {
	if len(s.Models) == 0 {
		return nil
	}
	m := make(map[string]ModelState, len(s.Models))
	for _, ms := range s.Models {
		m[ms.ID] = ms
	}
	return m
}
