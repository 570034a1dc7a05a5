package supervisor

import (
	"slices"
)

// Command is what to spawn. Args never pass through a shell.
type Command struct {
	Path string   // the executable, resolved
	Args []string // argv after argv[0]
	Env  []string // the child's environment; nil inherits the agent's
}

// Equal reports whether two commands would start the same child.
func (c *Command) Equal(o *Command) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Path == o.Path && slices.Equal(c.Args, o.Args) && slices.Equal(c.Env, o.Env)
}

// Config is everything the supervisor needs, already resolved and validated by
// the caller (settings/ and the spawn-gate). It is plain data: the supervisor
// knows nothing of TOML, XDG or the tray.
type Config struct {
	// Command is nil when the spawn-gate refused; Refusal then says why, in
	// words a person can act on.
	Command *Command
	Refusal string

	// Port is where the child listens. ProbeHost is where probes and the
	// port check connect (loopback for a bind-all host).
	Port      int
	ProbeHost string

	Policy Policy

	// LogPath receives the child's stdout and stderr (appended). Empty
	// discards them, but the last stderr lines still feed last_error.
	LogPath string

	// PIDFile, when set, records the child's pid while it lives, so the next
	// agent can stop a leftover child (see StopLeftover).
	PIDFile string

	// Shown on every status; changing only these never restarts the child.
	Model         string
	Warning       string
	SettingsError string

	// LiveView makes every health check while running also read what the
	// server is doing (its slots, its tokens per second) and its memory,
	// for the status's activity.
	LiveView bool
	// APIKey is the server's --api-key, if it has one: its /slots and
	// /metrics want it.
	APIKey string

	// Recheck re-runs the spawn-gate right before each respawn (the model
	// file may have been deleted meanwhile). It returns a refusal reason, or
	// "" to go ahead. Nil means always go ahead.
	Recheck func() string

	// Router is set when the child is llama-server's router (router mode):
	// while it runs, the status carries its models (router.go), and
	// Autoload, when set, is loaded after every (re)start and whenever it
	// changes. Changing Autoload alone never restarts the child.
	Router   bool
	Autoload string
	// WatchSleep: the child may fall asleep (sleep_after in single mode);
	// the status says when it does.
	WatchSleep bool
}

// childEqual reports whether switching from c to o would leave the child's
// argv, environment and policy as they were (docs/supervision.md: then it is not
// restarted).
func (c Config) childEqual(o Config) bool {
	return c.Command.Equal(o.Command) && c.Refusal == o.Refusal && c.Router == o.Router &&
		c.ProbeHost == o.ProbeHost && c.Port == o.Port && c.Policy == o.Policy && c.LogPath == o.LogPath
}

// BaseURL is where the server answers, as a person's browser or client
// should reach it: the probe host (loopback for a bind-all host) and port.
func (c Config) BaseURL() string {
	if c.ProbeHost == "" || c.Port == 0 {
		return ""
	}
	return baseURL(c.ProbeHost, c.Port)
}

// auth is the Authorization header the server wants, or "".
func (c Config) auth() string {
	if c.APIKey == "" {
		return ""
	}
	return "Bearer " + c.APIKey
}
