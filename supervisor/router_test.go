package supervisor

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// fakeRouter answers the router's API for the state machine's tests: it
// keeps model states, records every request, and can report sleeping.
type fakeRouter struct {
	mu       sync.Mutex
	states   map[string]string
	requests []string // "GET /models", "POST /models/load tiny", ...
	sleeping bool
}

func newFakeRouter(ids ...string) *fakeRouter {
	f := &fakeRouter{states: map[string]string{}}
	for _, id := range ids {
		f.states[id] = status.ModelUnloaded
	}
	return f
}

func (f *fakeRouter) do(_ context.Context, method, url string, body []byte) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := url[strings.Index(url[len("http://"):], "/")+len("http://"):]
	var req struct {
		Model string `json:"model"`
	}
	json.Unmarshal(body, &req)
	f.requests = append(f.requests, strings.TrimSpace(method+" "+path+" "+req.Model))
	switch path {
	case "/models":
		var data []any
		for id, st := range f.states {
			data = append(data, map[string]any{"id": id, "status": map[string]any{"value": st}})
		}
		b, _ := json.Marshal(map[string]any{"data": data})
		return http.StatusOK, b, nil
	case "/props":
		b, _ := json.Marshal(map[string]any{"is_sleeping": f.sleeping})
		return http.StatusOK, b, nil
	case "/models/load":
		if _, ok := f.states[req.Model]; !ok {
			return http.StatusNotFound, []byte(`{"error":{"code":404,"message":"model is not found"}}`), nil
		}
		f.states[req.Model] = status.ModelLoaded
	case "/models/unload":
		f.states[req.Model] = status.ModelUnloaded
	}
	return http.StatusOK, []byte(`{"success":true}`), nil
}

func (f *fakeRouter) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeRouter) set(id, state string) {
	f.mu.Lock()
	f.states[id] = state
	f.mu.Unlock()
}

func routerConfig() Config {
	cfg := testConfig()
	cfg.Command = &Command{Path: "/usr/bin/llama-server", Args: []string{"--models-dir", "/m"}}
	cfg.Router, cfg.Autoload = true, "tiny"
	return cfg
}

func startRouterHarness(t *testing.T, f *fakeRouter, cfg Config) (*harness, *world) {
	w := newWorld()
	w.onSpawn = healthyAtOnce
	w.httpDo = f.do
	return startHarness(t, w, cfg), w
}

func modelsOf(st status.Status) map[string]string {
	out := map[string]string{}
	for _, m := range st.Models {
		out[m.ID] = m.State
	}
	return out
}

// TestRouterModels: model_id is loaded after every (re)start and when it
// changes; the models are read once per health interval, and at once
// after a load or unload; they leave the status with the child.
func TestRouterModels(t *testing.T) {
	run(t, func(t *testing.T) {
		f := newFakeRouter("tiny", "other")
		cfg := routerConfig()
		h, w := startRouterHarness(t, f, cfg)
		st := h.wantState(status.Running)
		if got := modelsOf(st); got["tiny"] != status.ModelLoaded || got["other"] != status.ModelUnloaded {
			t.Fatalf("models %v", st.Models)
		}
		if n := f.count("POST /models/load tiny"); n != 1 {
			t.Fatalf("autoloads %d, want 1", n)
		}

		// Idle: one read per health interval.
		before := f.count("GET /models")
		time.Sleep(10 * cfg.Policy.HealthCheckInterval)
		synctest.Wait()
		if n := f.count("GET /models") - before; n != 10 {
			t.Fatalf("%d reads in 10 health intervals, want 10", n)
		}

		// An action: read again at once, no time passing.
		before = f.count("GET /models")
		if err := h.sup.LoadModel(t.Context(), "other"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := f.count("GET /models") - before; n != 1 || modelsOf(h.sup.Hub().Status())["other"] != status.ModelLoaded {
			t.Fatalf("after a load: %d reads, models %v", n, h.sup.Hub().Status().Models)
		}
		if err := h.sup.LoadModel(t.Context(), "nope"); err == nil || !strings.Contains(err.Error(), "model is not found") {
			t.Fatalf("load nope: %v", err)
		}
		if err := h.sup.UnloadModel(t.Context(), ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := modelsOf(h.sup.Hub().Status()); got["tiny"] != status.ModelUnloaded || got["other"] != status.ModelUnloaded {
			t.Fatalf("after unload all: %v", got)
		}

		// A new model_id is loaded without a restart.
		pid := w.current().pid
		cfg.Autoload = "other"
		h.sup.Apply(cfg)
		synctest.Wait()
		if n := f.count("POST /models/load other"); n != 2 || w.current().pid != pid {
			t.Fatalf("loads of other %d (want 2), pid %d -> %d", n, pid, w.current().pid)
		}

		// A crash: no models while nothing runs, and the restart loads
		// model_id again.
		f.set("other", status.ModelUnloaded)
		w.current().exit("killed by SIGSEGV")
		synctest.Wait()
		if st := h.sup.Hub().Status(); st.State == status.Running || st.Models != nil {
			t.Fatalf("after the crash: %+v", st)
		}
		if err := h.sup.LoadModel(t.Context(), "tiny"); err != ErrNoRouter {
			t.Fatalf("load with no router: %v", err)
		}
		time.Sleep(time.Minute)
		h.wantState(status.Running)
		if n := f.count("POST /models/load other"); n != 3 {
			t.Fatalf("loads of other after the restart: %d, want 3", n)
		}
		h.stop()
	})
}

// TestSleepingSingleMode: with sleep_after in single mode the status says
// when the server sleeps, from /props.
func TestSleepingSingleMode(t *testing.T) {
	run(t, func(t *testing.T) {
		f := newFakeRouter()
		cfg := testConfig()
		cfg.WatchSleep = true
		h, _ := startRouterHarness(t, f, cfg)
		if st := h.wantState(status.Running); st.Sleeping {
			t.Fatal("asleep at once")
		}
		f.mu.Lock()
		f.sleeping = true
		f.mu.Unlock()
		time.Sleep(cfg.Policy.HealthCheckInterval)
		synctest.Wait()
		if !h.sup.Hub().Status().Sleeping {
			t.Fatal("sleeping not seen within a health interval")
		}
		if n := f.count("GET /models"); n != 0 {
			t.Fatalf("%d /models reads in single mode", n)
		}
		h.stop()
	})
}

func TestParseModels(t *testing.T) {
	body := `{"data":[
		{"id":"zeta","status":{"value":"loaded"}},
		{"id":"big","status":{"value":"unloaded","failed":true,"exit_code":134,"args":["llama-server","--port","4321","--alias","big"]}},
		{"id":"eve\u001b[31m","status":{"value":"sleeping"}},
		{"id":"half","status":{"value":"loading","failed":true,"exit_code":1}}
	]}`
	tail := []string{
		"[4321] main: loading model",
		"[5555] llama_model_load: error loading model: of another model",
		"[4321] llama_model_load: error loading model: unknown model architecture: 'nosucharch'",
		"[4321] llama_model_load_from_file_impl: failed to load model",
		"0.00.040.000 I srv    operator(): instance name=big exited with status 134",
	}
	got, err := parseModels([]byte(body), tail)
	if err != nil {
		t.Fatal(err)
	}
	want := []status.ModelState{
		{ID: "big", State: status.ModelFailed, LastError: "exited with status 134: error loading model: unknown model architecture: 'nosucharch'"},
		{ID: "eve[31m", State: status.ModelSleeping},
		{ID: "half", State: status.ModelLoading},
		{ID: "zeta", State: status.ModelLoaded},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if routerSleeping(got) {
		t.Fatal("sleeping while others are loaded")
	}
	if !routerSleeping([]status.ModelState{{ID: "a", State: status.ModelSleeping}, {ID: "b", State: status.ModelUnloaded}}) {
		t.Fatal("the only model asleep is not sleeping")
	}
	if _, err := parseModels([]byte("<html>"), nil); err == nil {
		t.Fatal("HTML parsed")
	}
}

// TestRouterFollowsALoad: a load is followed closely until it ends (its
// end may come with no line to announce it), then reads go back to one per
// health interval.
func TestRouterFollowsALoad(t *testing.T) {
	run(t, func(t *testing.T) {
		f := newFakeRouter("tiny")
		cfg := routerConfig()
		cfg.Autoload = ""
		h, _ := startRouterHarness(t, f, cfg)
		h.wantState(status.Running)
		f.set("tiny", status.ModelLoading) // as a load the router took but has not finished
		h.sup.mail.post(message{kind: msgPollModels})
		synctest.Wait()
		time.Sleep(time.Second)
		f.set("tiny", status.ModelLoaded)
		start := time.Now()
		for modelsOf(h.sup.Hub().Status())["tiny"] != status.ModelLoaded {
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the end of the load was seen %v after it, want well within the %v interval", d, cfg.Policy.HealthCheckInterval)
		}
		before := f.count("GET /models")
		time.Sleep(10 * cfg.Policy.HealthCheckInterval)
		synctest.Wait()
		if n := f.count("GET /models") - before; n > 11 {
			t.Fatalf("%d reads in 10 idle intervals", n)
		}
		h.stop()
	})
}

func TestModelEvent(t *testing.T) {
	for line, want := range map[string]bool{
		"[41234] main: server is listening on http://127.0.0.1:41234 - starting the main loop":    true,
		"[41234] 0.00.037.007 I srv  llama_server: model loaded":                                  true,
		"[41234] srv  handle_sleep: server is entering sleeping state":                            true,
		"[41234] main: exiting due to model loading error":                                        true,
		"0.00.040.000 I srv    operator(): instance name=big exited with status 134":              true,
		"[41234] llama_model_loader: - kv   0: general.architecture str = llama":                  false,
		"main: server is listening on http://127.0.0.1:8080 - starting the main loop (no prefix)": false,
	} {
		if got := modelEvent(line); got != want {
			t.Errorf("modelEvent(%q) = %v", line, got)
		}
	}
}
