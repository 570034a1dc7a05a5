package control

import (
	"errors"
	"strings"
	"testing"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// fakeModels records the model verbs and answers as told.
type fakeModels struct {
	calls chan string
	err   error
}

func (m *fakeModels) do(verb, model string) (string, error) {
	m.calls <- verb + " " + model
	if m.err != nil {
		return "", m.err
	}
	return "asked to " + verb + " " + model, nil
}

func (m *fakeModels) Use(model string) (string, error)    { return m.do("use", model) }
func (m *fakeModels) Load(model string) (string, error)   { return m.do("load", model) }
func (m *fakeModels) Unload(model string) (string, error) { return m.do("unload", model) }

func TestModelCommands(t *testing.T) {
	testenv.NoLeaks(t)
	agent := newFakeAgent(status.Status{State: status.Running, PID: 7})
	models := &fakeModels{calls: make(chan string, 8)}
	src := agent.source()
	src.Models = models
	ts := startServer(t, src, nil)
	c := dialT(t, ts.path)
	for _, tc := range []struct{ cmd, model string }{{"use", "qwen"}, {"load", "a b"}, {"unload", ""}, {"unload", "x"}} {
		msg, err := c.Model(ctxT(t), tc.cmd, tc.model)
		if err != nil || msg != "asked to "+tc.cmd+" "+tc.model {
			t.Fatalf("Model(%s, %q) = %q, %v", tc.cmd, tc.model, msg, err)
		}
		if got := <-models.calls; got != tc.cmd+" "+tc.model {
			t.Fatalf("agent got %q", got)
		}
	}
	models.err = errors.New("no model \"x\" in ~/models")
	if _, err := c.Model(ctxT(t), "use", "x"); err == nil || !strings.Contains(err.Error(), `no model "x" in ~/models`) {
		t.Fatalf("err = %v", err)
	}
	<-models.calls
	if _, err := c.Model(ctxT(t), "start", "x"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("Model(start) = %v", err)
	}
}

func TestModelCommandsWithoutModels(t *testing.T) {
	testenv.NoLeaks(t)
	ts := startServer(t, newFakeAgent(status.Status{State: status.Stopped}).source(), nil)
	if _, err := dialT(t, ts.path).Model(ctxT(t), "use", "x"); err == nil || !strings.Contains(err.Error(), "does not manage models") {
		t.Fatalf("err = %v", err)
	}
}
