//go:build unix

package fakellama_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/fakellama"
)

var era2026 = []string{fakellama.EnvEra + "=" + fakellama.Era2026}

// prefix2026 is a current build's line prefix: elapsed time, level letter.
var prefix2026 = regexp.MustCompile(`^\d+\.\d{2}\.\d{3}\.\d{3} [IWE] `)

var port2026RE = regexp.MustCompile(regexp.QuoteMeta(fakellama.MarkerListening2026) + `, hostname: [^,]*, port: (\d+)`)

func TestEra2026ReadyLinesAndCleanExit(t *testing.T) {
	t.Parallel()
	p := start(t, era2026, "-m", model(t), "--port", "0")
	port := p.portFrom(port2026RE)
	p.waitStderr(fmt.Sprintf("%s127.0.0.1:%d\n", fakellama.MarkerReady2026, port))
	if code, _ := mustGet(t, port, "/health", ""); code != http.StatusOK {
		t.Fatalf("/health %d after the ready lines", code)
	}
	errText := p.Stderr.String()
	if strings.Contains(errText, fakellama.MarkerReady) || strings.Contains(errText, fakellama.MarkerLoaded+"\n") {
		t.Fatalf("a current build has no early-2025 ready lines:\n%s", errText)
	}
	if strings.Index(errText, fakellama.MarkerLoaded2026) > strings.Index(errText, fakellama.MarkerReady2026) {
		t.Fatalf("ready lines out of order:\n%s", errText)
	}
	for _, l := range strings.Split(strings.TrimSpace(errText), "\n") {
		if !prefix2026.MatchString(l) {
			t.Errorf("line without the current prefix: %q", l)
		}
	}
	p.signal(syscall.SIGTERM)
	wantExit(t, p, p.wait(), 0)
	if !strings.Contains(p.Stderr.String(), "I srv    operator(): operator(): cleaning up before exit...") {
		t.Fatalf("no cleanup line:\n%s", p.Stderr.String())
	}
}

func TestEra2026LoadFailuresExit1(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "text.gguf")
	if err := os.WriteFile(notGGUF, []byte("this is not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := model(t)
	tests := []struct {
		name, path string
		knobs      []string
		want       []string
	}{
		{"not gguf", notGGUF, nil, []string{
			"E gguf_init_from_reader: invalid magic characters: 'this', expected 'GGUF'",
			"E llama_model_load: error loading model: llama_model_loader: failed to load model from " + notGGUF,
			"E srv    load_model: failed to load model, '" + notGGUF + "'",
			"I srv    operator(): operator(): cleaning up before exit...",
			"E srv  llama_server: exiting due to model loading error",
		}},
		{"missing", filepath.Join(dir, "missing.gguf"), nil, []string{
			"E gguf_init_from_file: failed to open GGUF file '" + filepath.Join(dir, "missing.gguf") + "' (No such file or directory)",
		}},
		{"unknown architecture", good, []string{fakellama.EnvLoadError + "=" + fakellama.LoadErrorArch}, []string{
			"E llama_model_load: error loading model: unknown model architecture: 'nosucharch'",
			"E srv  llama_server: exiting due to model loading error",
		}},
		{"out of memory", good, []string{fakellama.EnvLoadError + "=" + fakellama.LoadErrorOOM}, []string{
			"E ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, append(append([]string{}, era2026...), tt.knobs...), "-m", tt.path, "--port", "0")
			wantExit(t, p, p.wait(), 1)
			errText := p.Stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(errText, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errText)
				}
			}
		})
	}
}

func TestEra2025UnknownArchitectureAborts(t *testing.T) {
	t.Parallel()
	p := start(t, []string{fakellama.EnvLoadError + "=" + fakellama.LoadErrorArch}, "-m", model(t), "--port", "0")
	wantSignaled(t, p, p.wait(), syscall.SIGABRT)
	if !strings.Contains(p.Stderr.String(), "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'nosucharch'\n") {
		t.Fatalf("stderr:\n%s", p.Stderr.String())
	}
}

func TestEra2026BindFailure(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	p := start(t, era2026, "-m", model(t), "--port", strconv.Itoa(port))
	wantExit(t, p, p.wait(), 1)
	for _, w := range []string{
		fmt.Sprintf("E srv         start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: %d\n", port),
		"E srv  llama_server: exiting due to HTTP server error\n",
	} {
		if !strings.Contains(p.Stderr.String(), w) {
			t.Fatalf("stderr lacks %q:\n%s", w, p.Stderr.String())
		}
	}
}

func TestEra2026Colours(t *testing.T) {
	t.Parallel()
	p := start(t, append([]string{fakellama.EnvLogColors + "=1"}, era2026...), "-m", filepath.Join(t.TempDir(), "missing.gguf"), "--port", "0")
	wantExit(t, p, p.wait(), 1)
	if !strings.Contains(p.Stderr.String(), "\x1b[31mE gguf_init_from_file: failed to open GGUF file") {
		t.Fatalf("no coloured error line:\n%q", p.Stderr.String())
	}
}

func TestCrashModeKillLeavesNoWords(t *testing.T) {
	t.Parallel()
	p := start(t, append([]string{fakellama.EnvCrashAfter + "=0s", fakellama.EnvCrashMode + "=" + fakellama.CrashKill}, era2026...), "-m", model(t), "--port", "0")
	wantSignaled(t, p, p.wait(), syscall.SIGKILL)
	if strings.Contains(p.Stderr.String(), "crash") {
		t.Fatalf("the OOM killer leaves no last words:\n%s", p.Stderr.String())
	}
}

// A model file can carry its own load failure, as a real file's
// architecture or size decides the real server's.
func TestFailingModelFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big.gguf")
	if err := fakellama.WriteFailingModel(path, fakellama.LoadErrorOOM); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "-m", path, "--port", "0")
	wantSignaled(t, p, p.wait(), syscall.SIGABRT)
	if !strings.Contains(p.Stderr.String(), "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size") {
		t.Fatalf("stderr:\n%s", p.Stderr.String())
	}
}
