//go:build linux

// Command bench measures what a user feels from a supervisor of
// llama-server (crash detection, respawn, readiness, stop, idle cost,
// orphans), for ocm-tray and, in the same run on the same machine, for
// supervisord and runit, all supervising the project's fake llama-server.
// See docs/BENCHMARKS.md. Linux only; needs root (the kernel's process-event
// connector; apt-get for the peers).
//
//	go run ./bench -runs 20 -out docs/BENCHMARKS.md
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	runs     int
	idle     time.Duration
	settle   time.Duration
	tmp      string
	ocm      string // built ocm-tray
	fake     string // built fake llama-server
	floor    string // built gofloor, the Go runtime's idle reference
	pe       *procEvents
	res      *results
	logf     func(string, ...any)
	peersOK  bool
	trayOK   bool
	trayNote string
	micro    string // go test -bench output
	load0    string // /proc/loadavg before and after
	load1    string
}

const (
	backoff     = 100 * time.Millisecond // ocm-tray's constant restart backoff in the crash runs
	stopTimeout = time.Second            // ocm-tray stop_timeout; supervisord stopwaitsecs=1; sv -w 1
)

func main() {
	runs := flag.Int("runs", 20, "repetitions of each timed figure")
	idle := flag.Duration("idle", 30*time.Second, "idle-footprint window (at least 30s)")
	out := flag.String("out", "", "write the Markdown report here (e.g. docs/BENCHMARKS.md); stdout always gets the table")
	install := flag.Bool("install", true, "apt-get install the peers (supervisor, runit) and the tray test bed when missing")
	withTray := flag.Bool("tray", true, "measure the idle footprint with the tray up (Xvfb + xfce4-panel)")
	withPeers := flag.Bool("peers", true, "measure supervisord and runit too")
	flag.StringVar(&fakeEra, "era", fakeEra, "the llama-server build the fake plays: 2025 (\"starting the main loop\") or 2026 (\"llama_server: model loaded\", exit 0 on SIGTERM)")
	flag.Parse()
	if fakeEra != "2025" && fakeEra != "2026" {
		fmt.Fprintln(os.Stderr, "bench: -era is 2025 or 2026")
		os.Exit(2)
	}
	if *idle < 30*time.Second {
		fmt.Fprintln(os.Stderr, "bench: -idle is at least 30s")
		os.Exit(2)
	}
	cmdline := "go run ./bench " + strings.Join(os.Args[1:], " ")
	code := run(*runs, *idle, *out, *install, *withTray, *withPeers, cmdline)
	os.Exit(code)
}

func run(runs int, idle time.Duration, out string, install, withTray, withPeers bool, cmdline string) int {
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(f, a...))
	}
	if os.Geteuid() != 0 {
		logf("needs root: the kernel's process-event connector timestamps child exits and forks")
		return 1
	}
	tmp, err := os.MkdirTemp("", "ocmb")
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	b := &bench{runs: runs, idle: idle, settle: 1200 * time.Millisecond, tmp: tmp, res: newResults(), logf: logf}

	// Clean up on SIGINT/SIGTERM/SIGHUP too: every process group we started.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigc
		logf("%v: stopping everything", s)
		cleanupAll()
		os.RemoveAll(tmp)
		os.Exit(130)
	}()
	defer cleanupAll()

	if err := becomeSubreaper(); err != nil {
		logf("cannot become a child subreaper: %v", err)
		return 1
	}
	if b.pe, err = startProcEvents(); err != nil {
		logf("%v", err)
		return 1
	}
	defer b.pe.close()

	if err := b.build(); err != nil {
		logf("%v", err)
		return 1
	}
	if install {
		b.installPackages(withPeers, withTray)
	}
	b.peersOK = withPeers && have("supervisord", "supervisorctl", "runsv", "sv")
	if withPeers && !b.peersOK {
		logf("peers missing (apt-get install supervisor runit): measuring ocm-tray only")
	}

	started := time.Now()
	steps := []struct {
		name string
		f    func() error
	}{
		{"cli baseline", b.cliBaseline},
		{"ocm-tray crash/respawn/readiness", b.ocmCrash},
		{"ocm-tray stop", func() error { return b.ocmStop("stop") }},
		{"ocm-tray stop (child exits at once)", func() error { return b.ocmStop("stop0") }},
		{"ocm-tray stop (SIGTERM ignored)", func() error { return b.ocmStop("stopign") }},
		{"ocm-tray survival", b.ocmSurvival},
	}
	if b.peersOK {
		for _, k := range []string{"supervisord", "runit"} {
			steps = append(steps,
				struct {
					name string
					f    func() error
				}{k + " crash/respawn", func() error { return b.peerCrash(k) }},
				struct {
					name string
					f    func() error
				}{k + " stop", func() error { return b.peerStop(k, "stop") }},
				struct {
					name string
					f    func() error
				}{k + " stop (child exits at once)", func() error { return b.peerStop(k, "stop0") }},
				struct {
					name string
					f    func() error
				}{k + " stop (SIGTERM ignored)", func() error { return b.peerStop(k, "stopign") }},
				struct {
					name string
					f    func() error
				}{k + " survival", func() error { return b.peerSurvival(k) }},
			)
		}
	}
	steps = append(steps, struct {
		name string
		f    func() error
	}{"idle footprint", func() error { return b.idleAll(withTray) }})

	b.load0 = loadavg()
	failed := 0
	for _, s := range steps {
		logf("== %s", s.name)
		if err := s.f(); err != nil {
			logf("%s: FAILED: %v", s.name, err)
			b.res.errors = append(b.res.errors, fmt.Sprintf("%s: %v", s.name, err))
			failed++
		}
		cleanupAll()
	}
	if err := b.pe.lostEvents(); err != nil {
		b.res.errors = append(b.res.errors, err.Error())
	}
	elapsed := time.Since(started)
	b.load1 = loadavg()
	logf("== go test -bench ./supervisor")
	mb := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "./supervisor")
	mbOut, err := mb.CombinedOutput()
	if err != nil {
		b.res.errors = append(b.res.errors, fmt.Sprintf("go test -bench: %v", err))
	}
	b.micro = string(mbOut)

	report := b.report(cmdline, elapsed)
	fmt.Print(b.table())
	if out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			logf("write %s: %v", out, err)
			return 1
		}
		logf("wrote %s", out)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// build compiles ocm-tray and the fake llama-server from this module.
func (b *bench) build() error {
	b.ocm = filepath.Join(b.tmp, "ocm-tray")
	b.fake = filepath.Join(b.tmp, "llama-server")
	b.floor = filepath.Join(b.tmp, "gofloor")
	for _, x := range [][2]string{{b.ocm, "./cmd/ocm-tray"}, {b.fake, "./internal/fakellama/fake-llama-server"}, {b.floor, "./bench/gofloor"}} {
		cmd := exec.Command("go", "build", "-o", x[0], x[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s (run from the module root): %v\n%s", x[1], err, out)
		}
	}
	return nil
}

func (b *bench) installPackages(peers, tray bool) {
	var pkgs []string
	if peers && !have("supervisord", "runsv") {
		pkgs = append(pkgs, "supervisor", "runit")
	}
	if tray && !have("Xvfb", "xvfb-run", "dbus-run-session", "dbus-send", "xfce4-panel") {
		pkgs = append(pkgs, "xvfb", "dbus", "dbus-x11", "xfce4-panel")
	}
	if len(pkgs) == 0 || !have("apt-get") {
		return
	}
	b.logf("apt-get install %s", strings.Join(pkgs, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	up := exec.Command("apt-get", "update", "-qq")
	up.Env = env
	up.Run()
	in := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)...)
	in.Env = env
	if out, err := in.CombinedOutput(); err != nil {
		b.logf("apt-get install failed: %v\n%s", err, out)
	}
}

func have(progs ...string) bool {
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			return false
		}
	}
	return true
}

// cleanEnv is the bench's environment without the user's desktop session,
// XDG dirs or fake-llama knobs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "DISPLAY", k == "WAYLAND_DISPLAY", k == "DBUS_SESSION_BUS_ADDRESS",
			k == "SESSION_MANAGER", strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "FAKE_LLAMA_"),
			strings.HasPrefix(k, "LLAMA_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeModel(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("GGUF"), make([]byte, 60)...), 0o644)
}

var healthClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func healthOK(port int) bool {
	resp, err := healthClient.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// firstOK probes /health as fast as it reasonably can (one keep-alive
// connection, gap between probes) until it gets a 200. It returns when the
// last probe that did not get a 200 was sent, and when the first 200 arrived.
func firstOK(ctx context.Context, port int, gap time.Duration) (notYet, first time.Time, err error) {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		sent := time.Now()
		resp, err := c.Do(req)
		now := time.Now()
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return notYet, now, nil
			}
		}
		notYet = sent
		if ctx.Err() != nil {
			return notYet, time.Time{}, ctx.Err()
		}
		time.Sleep(gap)
	}
}

func machine() string {
	var parts []string
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				parts = append(parts, strings.Trim(v, `"`))
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		parts = append(parts, "Linux "+cstr(u.Release[:]))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				parts = append(parts, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")))
				break
			}
		}
	}
	parts = append(parts, fmt.Sprintf("%d CPUs", runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(f) >= 2 {
			var kb int64
			fmt.Sscan(f[1], &kb)
			parts = append(parts, fmt.Sprintf("%.1f GB RAM", float64(kb)/1024/1024))
		}
	}
	parts = append(parts, runtime.Version())
	return strings.Join(parts, ", ")
}

func cstr(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func pkgVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return "?"
	}
	return string(out)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
