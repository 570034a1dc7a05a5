package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/control"
	"github.com/OpenCircuitDev/ocm-tray/models"
	"github.com/OpenCircuitDev/ocm-tray/settings"
	"github.com/OpenCircuitDev/ocm-tray/status"
)

// The model commands, registered in the command table.
func modelsCommand() *command {
	return &command{name: "models", synopsis: "[--json]",
		about: `List the models in the models folder (models_dir, else
$XDG_DATA_HOME/ocm/models): each .gguf file, split models as one, with its
size, parameter count and quantisation from its GGUF header, and what keeps
it from loading (still being written, incomplete). The current model_id is
marked *. It reads the folder, so it works with no agent running; with one
running llama-server's router, each model's state is shown too.`,
		flags: []flagDef{{long: "json", help: "print the models as a JSON array"}},
		run:   cmdModels}
}

func useCommand() *command {
	return &command{name: "use", synopsis: "MODEL [--wait]",
		about: `Make MODEL the model: write model_id = "MODEL" into the settings file,
changing nothing else in it. The running agent then switches llama-server
to it (with a router, it loads it). MODEL is a name as "ocm-tray models"
lists it. Nothing is written when the model is not in the models folder,
the settings file is invalid, or it changed since the agent read it. With
no agent running the file is written all the same, for its next start.`,
		flags: []flagDef{{long: "wait", help: "wait until llama-server runs the model (exit 0), or failed to (exit 1)"}},
		run:   cmdUse}
}

func unloadCommand() *command {
	return &command{name: "unload", synopsis: "[MODEL]",
		about: `With llama-server's router (mode = "router" under [models]): unload MODEL,
or every model, freeing their memory. The router keeps running and loads a
model again when a request asks for it. Exits 3 when no agent is running.`,
		run: cmdUnload}
}

// modelJSON is one model in `ocm-tray models --json`.
type modelJSON struct {
	ID           string `json:"id"`
	Path         string `json:"path"`
	Parts        int    `json:"parts"`
	Size         int64  `json:"size"`
	Params       uint64 `json:"params,omitempty"`
	Quant        string `json:"quant,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	Current      bool   `json:"current"`
	State        string `json:"state,omitempty"`      // router mode: the router's state of the model
	LastError    string `json:"last_error,omitempty"` // router mode: why it failed to load
	Problem      string `json:"problem,omitempty"`
}

func cmdModels(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 0 {
		return c.fail(stderr, fmt.Sprintf("unexpected argument %q", o.args[0]))
	}
	paths, err := settings.ResolvePaths("")
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	s, problems := settings.Load(paths.ConfigFile, false)
	if settings.HasErrors(problems) {
		fmt.Fprintf(stderr, "ocm-tray: %s has errors (ocm-tray check lists them); listing the folder it names as far as it could be read\n", paths.ConfigFile)
	}
	dir := settings.ModelsDir(s, paths.ModelsDir)
	list, err := models.List(dir, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	current := s.ModelID
	var states map[string]status.ModelState
	if st, ok := agentStatus(); ok {
		current = st.Model
		states = st.ModelStates()
	}

	if o.on("json") {
		out := make([]modelJSON, 0, len(list))
		for _, m := range list {
			j := modelJSON{ID: m.ID, Path: m.Path, Parts: m.Parts, Size: m.Size, Params: m.Params, Quant: m.Quant,
				Architecture: m.Architecture, Current: m.ID == current, Problem: m.Problem}
			if ms, ok := states[m.ID]; ok {
				j.State, j.LastError = ms.State, ms.LastError
			}
			out = append(out, j)
		}
		b, _ := json.Marshal(out) // plain fields cannot fail
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "No models in %s: put .gguf files there, or set models_dir in %s\n", settings.ShowPath(dir), settings.ShowPath(paths.ConfigFile))
		return exitOK
	}
	fmt.Fprintf(stdout, "Models in %s (* is model_id):\n", settings.ShowPath(dir))
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MODEL\tSIZE\tPARAMS\tQUANT\tSTATE")
	for _, m := range list {
		mark := " "
		if m.ID == current {
			mark = "*"
		}
		name := m.ID
		if m.Parts > 1 {
			name += fmt.Sprintf(" (%d parts)", m.Parts)
		}
		state := m.Problem
		if ms, ok := states[m.ID]; ok {
			state = ms.State
			if ms.LastError != "" {
				state += ": " + ms.LastError
			}
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\n", mark, name, models.Bytes(m.Size), models.Params(m.Params), m.Quant, state)
	}
	tw.Flush()
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		// An empty last column leaves the padding of the one before it.
		fmt.Fprintln(stdout, strings.TrimRight(line, " "))
	}
	return exitOK
}

// agentStatus asks a running agent for its status; false when none answers
// (the listing then goes without states).
func agentStatus() (status.Status, bool) {
	cl, err := dialAgent()
	if err != nil {
		return status.Status{}, false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	st, err := cl.Status(ctx)
	return st, err == nil
}

// dialAgent is dial without messages: an error wrapping control.ErrNoAgent
// when no agent runs.
func dialAgent() (*control.Client, error) {
	paths, err := settings.ResolvePaths("")
	if err != nil {
		return nil, err
	}
	if err := settings.CheckRuntimeDir(paths.RuntimeDir); errors.Is(err, fs.ErrNotExist) {
		return nil, control.ErrNoAgent
	} else if err != nil {
		return nil, err
	}
	return control.Dial(paths.Socket())
}

func cmdUse(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) != 1 {
		return c.fail(stderr, "say which model (ocm-tray models lists them)")
	}
	name := o.args[0]
	cl, err := dialAgent()
	if errors.Is(err, control.ErrNoAgent) {
		code := useWithoutAgent(name, stdout, stderr)
		if code == exitOK && o.on("wait") {
			return noAgent(stderr)
		}
		return code
	}
	if err != nil {
		return clientErr(err, stderr)
	}
	defer cl.Close()
	if o.on("wait") {
		return useAndWait(cl, name, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	msg, err := cl.Model(ctx, "use", name)
	if err != nil {
		return clientErr(err, stderr)
	}
	fmt.Fprintln(stdout, msg)
	return exitOK
}

// useWithoutAgent writes model_id itself, under the same rules as the
// agent: the model must be in the folder, the file valid and unchanged
// between reading and writing it.
func useWithoutAgent(name string, stdout, stderr io.Writer) int {
	paths, err := settings.ResolvePaths("")
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	snap, err := settings.TakeSnapshot(paths.ConfigFile)
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	s, _ := settings.Load(paths.ConfigFile, false)
	m, err := settings.FindModel(s, paths.ModelsDir, name)
	if err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	if err := settings.SetModelID(paths.ConfigFile, m.ID, snap); err != nil {
		fmt.Fprintf(stderr, "ocm-tray: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "model_id = %q in %s; no agent is running: it uses the model when it starts\n", m.ID, settings.ShowPath(paths.ConfigFile))
	return exitOK
}

// useAndWait sends use and follows the status until the agent runs the
// model (exit 0) or failed to start it (exit 1).
func useAndWait(cl *control.Client, name string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var id string
	var last status.Status
	errDone := errors.New("done")
	err := cl.Watch(ctx, func(_ []byte, ev status.Event) error {
		if id == "" {
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			msg, err := cl.Model(rctx, "use", name)
			cancel()
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, msg)
			id = usedModel(msg, name)
		}
		last = ev.Status
		if useFinished(ev.Status, id) {
			return errDone
		}
		return nil
	})
	switch {
	case errors.Is(err, errDone):
		fmt.Fprintln(stdout, status.OneLine(last))
		if last.State == status.Running {
			return exitOK
		}
		return exitError
	default:
		return waitEnded(ctx.Err() != nil, err, stderr)
	}
}

// usedModel is the model ID the agent wrote, read from its answer
// (`model_id = "ID" in ...`), else the name as given.
func usedModel(msg, name string) string {
	var id string
	if _, err := fmt.Sscanf(msg, "model_id = %q", &id); err == nil {
		return id
	}
	return name
}

// useFinished reports whether st is the outcome of choosing model id: the
// agent runs it (with a router, the router has it loaded), or failed to.
func useFinished(st status.Status, id string) bool {
	if st.Model != id {
		return false // the switch has not happened yet
	}
	if ms, ok := st.ModelStates()[id]; ok && st.State == status.Running {
		return ms.State == status.ModelLoaded || ms.State == status.ModelFailed
	}
	switch st.State {
	case status.Running, status.FailedAfterMaxRestarts, status.NotSpawning, status.Stopped:
		return true
	}
	return false
}

func cmdUnload(c *command, o opts, stdout, stderr io.Writer) int {
	if len(o.args) > 1 {
		return c.fail(stderr, "unload takes at most one model")
	}
	name := ""
	if len(o.args) == 1 {
		name = o.args[0]
	}
	cl, code := dial(stderr)
	if cl == nil {
		return code
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	msg, err := cl.Model(ctx, "unload", name)
	if err != nil {
		return clientErr(err, stderr)
	}
	fmt.Fprintln(stdout, msg)
	return exitOK
}
