package fakellama

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// sleeper models --sleep-idle-seconds: after that long without a
// generation request the server sleeps (its model unloaded from memory);
// the next generation request wakes it. /health, /props and /slots do not.
type sleeper struct {
	idle     time.Duration
	onChange func(sleeping bool)

	mu       sync.Mutex
	timer    *time.Timer
	sleeping bool
	stopped  bool
}

// newSleeper starts the idle clock; onChange is called (never concurrently)
// on every change.
func newSleeper(idle time.Duration, onChange func(sleeping bool)) *sleeper {
	s := &sleeper{idle: idle, onChange: onChange}
	s.timer = time.AfterFunc(idle, s.fallAsleep)
	return s
}

func (s *sleeper) fallAsleep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.sleeping {
		return
	}
	s.sleeping = true
	s.onChange(true)
}

// touch is a generation request: it wakes the server and restarts the
// idle clock.
func (s *sleeper) touch() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.sleeping {
		s.sleeping = false
		s.onChange(false)
	}
	s.timer.Reset(s.idle)
}

func (s *sleeper) isSleeping() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sleeping
}

func (s *sleeper) stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.timer.Stop()
}

// The router and its model servers talk over the child's stdin and stdout,
// as the real ones do: the router writes routerExitCmd to ask a child to
// exit; a child writes childStatePrefix and a JSON object to report its
// state. EnvRouterPort marks a child of a router.
const (
	EnvRouterPort    = "LLAMA_SERVER_ROUTER_PORT"
	routerExitCmd    = "cmd_router_to_child:exit"
	childStatePrefix = "cmd_child_to_router:state:"
)

// Child states reported to the router.
const (
	childLoading  = "loading"
	childReady    = "ready"
	childSleeping = "sleeping"
)

// reportState tells the router what state this child is in.
func reportState(w io.Writer, mu *sync.Mutex, state string) {
	b, _ := json.Marshal(map[string]any{"state": state, "payload": map[string]any{}})
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(w, "%s%s\n", childStatePrefix, b)
}

// watchRouter reads the router's commands on stdin: exit status 0 for the
// exit command, 1 when stdin ends (the router died: a child must not
// outlive it).
func watchRouter(r io.Reader) <-chan int {
	done := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), routerExitCmd) {
				done <- 0
				return
			}
		}
		done <- 1
	}()
	return done
}

// routerChild reports whether this server was started by a router.
func routerChild() bool { return os.Getenv(EnvRouterPort) != "" }
