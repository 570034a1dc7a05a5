//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// peer is a supervisor other than ocm-tray, running the same fake child:
// supervisord or runit's runsv.
type peer struct {
	b       *bench
	kind    string // "supervisord" | "runit"
	dir     string
	port    int
	pidFile string // FAKE_LLAMA_PIDFILE: the current child's pid
	cmd     *exec.Cmd
	pid     int // supervisord / runsv
	conf    string
	svc     string // runit service dir
	log     string // supervisord's own log
}

func (b *bench) newPeer(kind string, childEnv []string, stopWait int) (*peer, error) {
	dir, err := os.MkdirTemp(b.tmp, kind+"-")
	if err != nil {
		return nil, err
	}
	p := &peer{b: b, kind: kind, dir: dir, port: freePort(), pidFile: filepath.Join(dir, "child.pid")}
	model := filepath.Join(dir, "bench.gguf")
	if err := writeModel(model); err != nil {
		return nil, err
	}
	env := append([]string{"FAKE_LLAMA_PIDFILE=" + p.pidFile}, childEnv...)
	args := fmt.Sprintf("%s -m %s --host 127.0.0.1 --port %d -c 4096", b.fake, model, p.port)
	switch kind {
	case "supervisord":
		p.conf = filepath.Join(dir, "supervisord.conf")
		p.log = filepath.Join(dir, "supervisord.log")
		var envs []string
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			envs = append(envs, fmt.Sprintf("%s=%q", k, v))
		}
		conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/supervisor.sock

[supervisord]
nodaemon=true
user=root
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[program:llama]
command=%[2]s
environment=%[3]s
startsecs=0
startretries=100
autorestart=true
stopsignal=TERM
stopwaitsecs=%[4]d
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=%[1]s/llama-server.log
`, dir, args, strings.Join(envs, ","), stopWait)
		if err := os.WriteFile(p.conf, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		p.cmd = exec.Command("supervisord", "-n", "-c", p.conf)
	case "runit":
		p.svc = filepath.Join(dir, "svc")
		if err := os.MkdirAll(p.svc, 0o755); err != nil {
			return nil, err
		}
		var sb strings.Builder
		sb.WriteString("#!/bin/sh\nexec 2>>" + filepath.Join(dir, "llama-server.log") + "\n")
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&sb, "export %s='%s'\n", k, v)
		}
		sb.WriteString("exec " + args + "\n")
		if err := os.WriteFile(filepath.Join(p.svc, "run"), []byte(sb.String()), 0o755); err != nil {
			return nil, err
		}
		p.cmd = exec.Command("runsv", p.svc)
	}
	p.cmd.Env = cleanEnv()
	p.cmd.Dir = dir
	return p, nil
}

func (p *peer) start() error {
	if err := startGroup(p.kind, p.cmd); err != nil {
		return err
	}
	p.pid = p.cmd.Process.Pid
	go p.cmd.Wait()
	return nil
}

// waitChild waits until a child other than old has written its pid file and
// answers 200 on /health; it returns that child's pid.
func (p *peer) waitChild(old int, d time.Duration) (int, error) {
	var pid int
	ok := waitFor(d, time.Millisecond, func() bool {
		pid = readPIDFile(p.pidFile)
		return pid != 0 && pid != old && aliveNotZombie(pid)
	})
	if !ok {
		return 0, fmt.Errorf("%s: no new child within %s (pid file %d, old %d)", p.kind, d, pid, old)
	}
	if !waitFor(d, 2*time.Millisecond, func() bool { return healthOK(p.port) }) {
		return 0, fmt.Errorf("%s: child %d never answered 200", p.kind, pid)
	}
	return pid, nil
}

// ctl runs supervisorctl or sv.
func (p *peer) ctl(args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	switch p.kind {
	case "supervisord":
		cmd = exec.Command("supervisorctl", append([]string{"-c", p.conf}, args...)...)
	default:
		cmd = exec.Command("sv", append(args, p.svc)...)
	}
	cmd.Env = cleanEnv()
	return cmd
}

func (p *peer) stopCmd(ignoring bool) *exec.Cmd {
	switch {
	case p.kind == "supervisord":
		return p.ctl("stop", "llama")
	case ignoring:
		// runsv never escalates on its own; sv's force-stop does after -w.
		return p.ctl("-w", "1", "force-stop")
	default:
		return p.ctl("down")
	}
}

func (p *peer) startCmd() *exec.Cmd {
	if p.kind == "supervisord" {
		return p.ctl("start", "llama")
	}
	return p.ctl("up")
}

// exitedLines returns the times of supervisord's "exited: llama" log lines
// (millisecond resolution, local time).
func (p *peer) exitedLines() []time.Time {
	f, err := os.Open(p.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, "exited: llama") || len(l) < 23 {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02 15:04:05,000", l[:23], time.Local)
		if err == nil {
			out = append(out, t)
		}
	}
	return out
}

func (p *peer) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	child := readPIDFile(p.pidFile)
	syscall.Kill(p.pid, syscall.SIGTERM)
	waitGone(p.pid, 5*time.Second)
	killGroup(p.pid)
	if child != 0 && aliveNotZombie(child) {
		syscall.Kill(-child, syscall.SIGKILL)
		syscall.Kill(child, syscall.SIGKILL)
		reapOrphan(child)
	}
}
