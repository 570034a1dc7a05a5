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

// Bounds on the models a status carries: a router over a folder of
// thousands of files, or a model server's endless error line, must not make
// a status line megabytes long.
const (
	MaxModels     = 256
	maxModelField = 512
)

// boundModels returns ms with at most MaxModels entries and every text cut
// to maxModelField bytes; a copy when anything had to change, since the
// caller's slice may be shared.
func boundModels(ms []ModelState) []ModelState {
	fits := len(ms) <= MaxModels
	for _, m := range ms {
		fits = fits && len(m.ID) <= maxModelField && len(m.State) <= maxModelField && len(m.LastError) <= maxModelField
	}
	if fits {
		return ms
	}
	out := make([]ModelState, 0, min(len(ms), MaxModels))
	for _, m := range ms[:min(len(ms), MaxModels)] {
		out = append(out, ModelState{ID: cut(m.ID, maxModelField), State: cut(m.State, maxModelField), LastError: cut(m.LastError, maxModelField)})
	}
	return out
}
