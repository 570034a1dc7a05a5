package fakellama

import (
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)
	tests := []struct {
		name    string
		args    []string
		getenv  func(string) string
		k       knobs
		want    options
		wantErr string
	}{
		{name: "defaults", getenv: none,
			want: options{model: defaultModel, host: "127.0.0.1", port: 8080, ctx: 4096, modelsMax: 4}},
		{name: "short and long", getenv: none,
			args: []string{"-m", "x.gguf", "--host", "0.0.0.0", "--port", "0", "-c", "512", "--api-key", "k", "-a", "al", "-ngl", "99"},
			want: options{model: "x.gguf", modelGiven: true, host: "0.0.0.0", port: 0, ctx: 512, apiKey: "k", alias: "al", modelsMax: 4}},
		{name: "equals form", getenv: none,
			args: []string{"--model=y.gguf", "--port=9", "--ctx-size=0", "--alias=a=b"},
			want: options{model: "y.gguf", modelGiven: true, host: "127.0.0.1", port: 9, ctx: 0, alias: "a=b", modelsMax: 4}},
		{name: "env used", getenv: env(map[string]string{"LLAMA_ARG_HOST": "::1", "LLAMA_ARG_PORT": "7", "LLAMA_ARG_MODEL": "e.gguf", "LLAMA_ARG_CTX_SIZE": "64", "LLAMA_API_KEY": "s"}),
			want: options{model: "e.gguf", modelGiven: true, host: "::1", port: 7, ctx: 64, apiKey: "s", modelsMax: 4}},
		{name: "flags win over env", getenv: env(map[string]string{"LLAMA_ARG_HOST": "::1", "LLAMA_ARG_PORT": "7", "LLAMA_ARG_MODEL": "e.gguf", "LLAMA_ARG_CTX_SIZE": "64"}),
			args: []string{"--host", "127.0.0.2", "--port", "8", "-m", "f.gguf", "-c", "32"},
			want: options{model: "f.gguf", modelGiven: true, host: "127.0.0.2", port: 8, ctx: 32, modelsMax: 4}},
		{name: "router and sleep", getenv: none,
			args: []string{"--models-dir", "/m", "--models-max", "2", "--sleep-idle-seconds=30", "--no-models-autoload", "--help"},
			want: options{model: defaultModel, host: "127.0.0.1", port: 8080, ctx: 4096, modelsDir: "/m", modelsMax: 2, sleepIdle: 30, noAutoload: true, help: true}},
		{name: "a build without router mode", getenv: none, k: knobs{noRouter: true}, args: []string{"--models-dir", "/m"}, wantErr: "error: invalid argument: --models-dir"},
		{name: "a build without sleeping", getenv: none, k: knobs{noSleep: true}, args: []string{"--sleep-idle-seconds", "3"}, wantErr: "error: invalid argument: --sleep-idle-seconds"},
		{name: "unknown flag", getenv: none, args: []string{"-m", "x", "--bogus"}, wantErr: "error: invalid argument: --bogus"},
		{name: "unknown flag with value", getenv: none, args: []string{"--bogus=1"}, wantErr: "error: invalid argument: --bogus=1"},
		{name: "positional", getenv: none, args: []string{"model.gguf"}, wantErr: "error: invalid argument: model.gguf"},
		{name: "missing value", getenv: none, args: []string{"--port"}, wantErr: `error while handling argument "--port": expected value for argument`},
		{name: "bad port", getenv: none, args: []string{"--port", "x"}, wantErr: `error while handling argument "--port"`},
		{name: "bad env port", getenv: env(map[string]string{"LLAMA_ARG_PORT": "x"}), wantErr: `error while handling environment variable "LLAMA_ARG_PORT"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, tt.getenv, tt.k)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadKnobs(t *testing.T) {
	k, err := readKnobs(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if k.load != 50*time.Millisecond || k.startDelay != 5*time.Millisecond || k.crashAfter != off || k.crashMode != CrashAbort || k.unhealthyStatus != 500 {
		t.Fatalf("defaults: %+v", k)
	}
	set := map[string]string{EnvLoad: "1s", EnvCrashAfter: "0s", EnvCrashMode: "segv", EnvIgnoreSIGTERM: "1", EnvStderrFlood: "10", EnvUnhealthyStatus: "503"}
	k, err = readKnobs(func(n string) string { return set[n] })
	if err != nil {
		t.Fatal(err)
	}
	if k.load != time.Second || k.crashAfter != 0 || k.crashMode != CrashSegv || !k.ignoreTerm || k.flood != 10 || k.unhealthyStatus != 503 {
		t.Fatalf("set: %+v", k)
	}
	for name, v := range map[string]string{EnvLoad: "300", EnvCrashMode: "boom", EnvCleanExit: "yes please", EnvHangAfter: "-1s", EnvUnhealthyStatus: "42", EnvEra: "1999", EnvLoadError: "gremlins"} {
		if _, err := readKnobs(func(n string) string {
			if n == name {
				return v
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v, want one naming the knob", name, v, err)
		}
	}
}

func TestCheckModel(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.gguf"
	if err := WriteModel(good); err != nil {
		t.Fatal(err)
	}
	if err := checkModel(good); err != nil {
		t.Fatalf("WriteModel's file rejected: %v", err)
	}
	if err := checkModel(dir + "/missing.gguf"); err == nil {
		t.Fatal("missing file accepted")
	}
}
