package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/OpenCircuitDev/ocm-tray/supervisor"
)

// writeFile writes content to a fresh file in a test directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads a file that must have no problems at all.
func mustLoad(t *testing.T, path string) Settings {
	t.Helper()
	s, probs := Load(path, true)
	if len(probs) > 0 {
		t.Fatalf("Load(%s): unexpected problems: %v", path, probs)
	}
	return s
}

func withFile(s Settings, file string) Settings {
	s.File = file
	return s
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	want := Settings{
		Backend:          "auto",
		InferenceBaseURL: "http://127.0.0.1:8080",
		CtxLen:           4096,
		Supervisor: SupervisorSettings{
			MaxRestarts:         3,
			InitialBackoff:      Duration(500 * time.Millisecond),
			MaxBackoff:          Duration(10 * time.Second),
			StabilityWindow:     Duration(60 * time.Second),
			HealthCheckInterval: Duration(5 * time.Second),
			HealthCheckTimeout:  Duration(15 * time.Second),
			StartupTimeout:      Duration(10 * time.Minute),
			StopTimeout:         Duration(10 * time.Second),
		},
		Notifications: NotificationSettings{Level: "all"},
		Models:        ModelsSettings{Mode: "single", MaxLoaded: 1},
		Power:         PowerSettings{KeepAwakeWhileGenerating: true},
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("Defaults() = %+v\nwant %+v", d, want)
	}
	if d.Supervisor.Policy() != supervisor.DefaultPolicy() {
		t.Fatalf("default policy %+v differs from supervisor.DefaultPolicy() %+v", d.Supervisor.Policy(), supervisor.DefaultPolicy())
	}
	// The defaults are themselves valid settings.
	if _, probs := Parse("x.toml", nil); len(probs) != 0 {
		t.Fatalf("empty document: %v", probs)
	}
}

func TestRoundTrip(t *testing.T) {
	s := Settings{
		Backend:           BackendLlamaCpp,
		ModelID:           "qwen2.5-0.5b-instruct-q4_k_m",
		InferenceBaseURL:  "http://[::1]:9090/v1",
		LlamaServerBinary: "~/bin/llama-server",
		ModelsDir:         "/srv/models",
		CtxLen:            0,
		LlamaServerArgs:   []string{"--threads", "4", "--api-key", "k e y"},
		Supervisor: SupervisorSettings{
			MaxRestarts:         0,
			InitialBackoff:      Duration(250 * time.Millisecond),
			MaxBackoff:          Duration(90 * time.Second),
			StabilityWindow:     Duration(2 * time.Hour),
			HealthCheckInterval: Duration(1500 * time.Millisecond),
			HealthCheckTimeout:  Duration(time.Minute),
			StartupTimeout:      Duration(24 * time.Hour),
			StopTimeout:         Duration(time.Second),
		},
		Notifications: NotificationSettings{Level: "failures"},
		Models:        ModelsSettings{Mode: "router", MaxLoaded: 3, SleepAfter: Duration(10 * time.Minute)},
	}
	for _, tc := range []struct {
		name string
		s    Settings
	}{{"custom", s}, {"defaults", Defaults()}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := toml.Marshal(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			p := writeFile(t, "settings.toml", string(data))
			got := mustLoad(t, p)
			if want := withFile(tc.s, p); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip through\n%s\ngot  %+v\nwant %+v", data, got, want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500 * time.Millisecond:  "500ms",
		10 * time.Second:        "10s",
		2 * time.Minute:         "2m",
		10 * time.Minute:        "10m",
		90 * time.Second:        "1m30s",
		time.Hour:               "1h",
		90 * time.Minute:        "1h30m",
		time.Hour + time.Second: "1h0m1s",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || time.Duration(back) != d {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", Duration(d).String(), back, err, d)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Error(`UnmarshalText("soon") succeeded`)
	}
}

// The seed's files (a Rust daemon's settings.toml) load unchanged.
func TestSeedFiles(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          func(Settings) Settings
	}{
		{
			name: "llamacpp",
			content: `backend = "llamacpp"
model_id = "qwen2.5-0.5b-instruct-q4_k_m"
inference_base_url = "http://127.0.0.1:8080"
llama_server_binary = "/usr/local/bin/llama-server"
`,
			want: func(s Settings) Settings {
				s.Backend = BackendLlamaCpp
				s.ModelID = "qwen2.5-0.5b-instruct-q4_k_m"
				s.LlamaServerBinary = "/usr/local/bin/llama-server"
				return s
			},
		},
		{
			// Ollama's model names are not file names and its URL may have
			// no port: for other backends these keys are only kept.
			name: "ollama",
			content: `backend = "ollama"
model_id = "qwen2.5:0.5b"
inference_base_url = "http://localhost/v1"
`,
			want: func(s Settings) Settings {
				s.Backend = BackendOllama
				s.ModelID = "qwen2.5:0.5b"
				s.InferenceBaseURL = "http://localhost/v1"
				return s
			},
		},
		{
			name:    "auto with path-like model id",
			content: "backend = \"auto\"\nmodel_id = \"library/llama3:8b\"\ninference_base_url = \"https://example.com\"\n",
			want: func(s Settings) Settings {
				s.ModelID = "library/llama3:8b"
				s.InferenceBaseURL = "https://example.com"
				return s
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "settings.toml", tc.content)
			got := mustLoad(t, p)
			if want := tc.want(withFile(Defaults(), p)); !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestTemplateParsesToDefaults(t *testing.T) {
	s, probs := Parse("template.toml", Template())
	if len(probs) > 0 {
		t.Fatalf("template has problems: %v", probs)
	}
	if want := withFile(Defaults(), "template.toml"); !reflect.DeepEqual(s, want) {
		t.Fatalf("template parses to %+v, want %+v", s, want)
	}
}

// Every key the parser knows is documented in the template, and uncommenting
// every documented line gives a file that still parses to the defaults: the
// values shown are the real defaults (model_id and the binary excepted,
// which are examples of keys that are unset by default).
var keyLine = regexp.MustCompile(`^[a-z_]+ = `)

func TestTemplateDocumentsEveryKey(t *testing.T) {
	tmpl := string(Template())
	for key := range examples {
		short := key[strings.LastIndexByte(key, '.')+1:]
		if !strings.Contains(tmpl, "# "+short+" = ") {
			t.Errorf("template does not document %s", key)
		}
	}
	var out []string
	for _, line := range strings.Split(tmpl, "\n") {
		if k, ok := strings.CutPrefix(line, "# "); ok && keyLine.MatchString(k) &&
			!strings.HasPrefix(k, "model_id") && !strings.HasPrefix(k, "llama_server_binary") {
			line = k
		}
		out = append(out, line)
	}
	s, probs := Parse("t.toml", []byte(strings.Join(out, "\n")))
	if len(probs) > 0 {
		t.Fatalf("uncommented template has problems: %v", probs)
	}
	if want := withFile(Defaults(), "t.toml"); !reflect.DeepEqual(s, want) {
		t.Fatalf("uncommented template parses to %+v, want %+v", s, want)
	}
}

func TestBackendValid(t *testing.T) {
	for _, b := range Backends {
		if !b.Valid() {
			t.Errorf("%q not valid", b)
		}
	}
	for _, b := range []Backend{"", "LlamaCpp", "llama.cpp", "vllm"} {
		if b.Valid() {
			t.Errorf("%q valid", b)
		}
	}
}
