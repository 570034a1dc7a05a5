//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ocmInst is one ocm-tray agent with its own HOME and XDG directories, its
// own port and its own fake llama-server.
type ocmInst struct {
	b        *bench
	name     string
	dir      string
	port     int
	env      []string
	agent    *exec.Cmd
	agentPID int
	watch    *exec.Cmd

	mu     sync.Mutex
	events []ocmEvent
	more   chan struct{} // closed and replaced on every event
	eof    bool
}

type ocmEvent struct {
	State string    `json:"state"`
	PID   int       `json:"pid"`
	At    time.Time `json:"at"`
}

// ocmPolicy is the [supervisor] table used for the bench. The backoff is
// constant (initial = max) so every crash of a run is alike, and the budget
// and stability window are large enough for every crash to be restarted.
type ocmPolicy struct {
	Backoff     time.Duration
	StopTimeout time.Duration
	HealthEvery time.Duration
}

func (b *bench) newOCM(name string, pol ocmPolicy, childEnv []string) (*ocmInst, error) {
	dir, err := os.MkdirTemp(b.tmp, "ocm-")
	if err != nil {
		return nil, err
	}
	o := &ocmInst{b: b, name: name, dir: dir, port: freePort(), more: make(chan struct{})}
	x := map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_STATE_HOME":  filepath.Join(dir, "state"),
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		"XDG_CACHE_HOME":  filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR": filepath.Join(dir, "run"),
	}
	for _, p := range x {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, err
		}
	}
	if err := writeModel(filepath.Join(x["XDG_DATA_HOME"], "ocm", "models", "bench.gguf")); err != nil {
		return nil, err
	}
	settings := fmt.Sprintf(`backend = "llamacpp"
model_id = "bench"
inference_base_url = "http://127.0.0.1:%d"
llama_server_binary = %q
ctx_len = 4096

[supervisor]
max_restarts = 100
initial_backoff = %q
max_backoff = %q
stability_window = "24h"
health_check_interval = %q
health_check_timeout = %q
startup_timeout = "1m"
stop_timeout = %q

[notifications]
level = "off"
`, o.port, b.fake, pol.Backoff.String(), pol.Backoff.String(), pol.HealthEvery.String(), max(15*time.Second, pol.HealthEvery).String(), pol.StopTimeout.String())
	if err := os.MkdirAll(filepath.Join(x["XDG_CONFIG_HOME"], "ocm"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(x["XDG_CONFIG_HOME"], "ocm", "settings.toml"), []byte(settings), 0o600); err != nil {
		return nil, err
	}
	o.env = cleanEnv()
	for k, v := range x {
		o.env = append(o.env, k+"="+v)
	}
	o.env = append(o.env, childEnv...)
	return o, nil
}

// startHeadless starts the agent with --headless. No session bus: a
// notification library must not autolaunch one.
func (o *ocmInst) startHeadless() error {
	cmd := exec.Command(o.b.ocm, "--headless")
	cmd.Env = append(o.env, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := startGroup(o.name, cmd); err != nil {
		return err
	}
	o.agent, o.agentPID = cmd, cmd.Process.Pid
	go cmd.Wait()
	return o.waitSocket()
}

func (o *ocmInst) socketPath() string {
	return filepath.Join(o.dir, "run", "ocm", "ocm-tray.sock")
}

func (o *ocmInst) waitSocket() error {
	if !waitFor(10*time.Second, 2*time.Millisecond, func() bool {
		_, err := os.Stat(o.socketPath())
		return err == nil
	}) {
		return fmt.Errorf("%s: the agent's control socket never appeared", o.name)
	}
	return nil
}

// startWatch runs `ocm-tray status --watch --json` and records every line.
func (o *ocmInst) startWatch() error {
	cmd := exec.Command(o.b.ocm, "status", "--watch", "--json")
	cmd.Env = o.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := startGroup(o.name+" watch", cmd); err != nil {
		return err
	}
	o.watch = cmd
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev ocmEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			o.mu.Lock()
			o.events = append(o.events, ev)
			close(o.more)
			o.more = make(chan struct{})
			o.mu.Unlock()
		}
		o.mu.Lock()
		o.eof = true
		close(o.more)
		o.more = make(chan struct{})
		o.mu.Unlock()
		cmd.Wait()
	}()
	return nil
}

// mark is the index of the next event: waitEvent(mark, ...) sees only
// events published after it was taken.
func (o *ocmInst) mark() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.events)
}

// waitEvent returns the first event at index >= from whose state is one of
// states, and the index after it.
func (o *ocmInst) waitEvent(from int, d time.Duration, states ...string) (ocmEvent, int, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		for i := from; i < len(o.events); i++ {
			for _, s := range states {
				if o.events[i].State == s {
					ev := o.events[i]
					o.mu.Unlock()
					return ev, i + 1, nil
				}
			}
		}
		ch, eof := o.more, o.eof
		o.mu.Unlock()
		if eof {
			return ocmEvent{}, from, fmt.Errorf("%s: the watch stream ended while waiting for %v", o.name, states)
		}
		select {
		case <-ch:
		case <-deadline.C:
			return ocmEvent{}, from, fmt.Errorf("%s: no %v within %s (events: %v)", o.name, states, d, o.tail())
		}
	}
}

func (o *ocmInst) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var s []string
	for _, e := range o.events[max(0, len(o.events)-6):] {
		s = append(s, fmt.Sprintf("%s/%d", e.State, e.PID))
	}
	return strings.Join(s, " ")
}

// cli runs `ocm-tray ARGS` with this agent's environment.
func (o *ocmInst) cli(args ...string) error {
	cmd := exec.Command(o.b.ocm, args...)
	cmd.Env = o.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ocm-tray %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// statusState asks the agent for its status (one request).
func (o *ocmInst) statusState() (ocmEvent, error) {
	cmd := exec.Command(o.b.ocm, "status", "--json")
	cmd.Env = o.env
	out, err := cmd.Output()
	if err != nil {
		return ocmEvent{}, err
	}
	var ev ocmEvent
	err = json.Unmarshal(out, &ev)
	return ev, err
}

// stop ends the agent and everything it started.
func (o *ocmInst) stop() {
	if o.agent != nil {
		syscall.Kill(o.agentPID, syscall.SIGTERM)
		waitGone(o.agentPID, 3*time.Second)
		killGroup(o.agentPID)
	}
	if o.watch != nil {
		killGroup(o.watch.Process.Pid)
	}
}

func (o *ocmInst) childLog() string {
	return filepath.Join(o.dir, "state", "ocm", "llama-server.log")
}
