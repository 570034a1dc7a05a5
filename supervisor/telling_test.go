package supervisor

import "testing"

func TestTellingLine(t *testing.T) {
	badModel := []string{
		"srv    load_model: loading model '/m/x.gguf'",
		"gguf_init_from_file_impl: invalid magic characters",
		"llama_model_load: error loading model: llama_model_loader: failed to load model from /m/x.gguf",
		"llama_model_load_from_file_impl: failed to load model",
		"common_init_from_params: failed to load model '/m/x.gguf'",
		"srv    load_model: failed to load model, '/m/x.gguf'",
		"main: exiting due to model loading error",
		"terminate called without an active exception",
	}
	tests := []struct {
		name string
		tail []string
		want string
	}{
		{"the cause starts the cascade", badModel, "gguf_init_from_file_impl: invalid magic characters"},
		{"the run ends at a line that is no error", append([]string{"a", "b"}, badModel[2:]...), "llama_model_load: error loading model: llama_model_loader: failed to load model from /m/x.gguf"},
		{"only terminate called", []string{"main: model loaded", "srv    operator(): cleaning up before exit...", "terminate called without an active exception"}, "terminate called without an active exception"},
		{"bad argument", []string{"error: invalid argument: --bogus"}, "error: invalid argument: --bogus"},
		{"an older error is not picked over later lines", []string{"error: x", "1", "2", "3", "4", "5", "6", "7", "8", "last"}, "last"},
		{"no lines", nil, ""},
	}
	for _, tt := range tests {
		if got := tellingLine(tt.tail); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
