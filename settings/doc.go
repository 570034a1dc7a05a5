// Package settings turns the user's settings.toml into the plain
// supervisor.Config the supervisor runs on (docs/settings.md).
//
// It owns four things and nothing else:
//
//   - where files live (XDG paths, the private runtime directory);
//   - reading and validating settings.toml, reporting every problem as
//     "PATH:LINE: KEY: problem; fix" so a person can repair the file;
//   - the spawn-gate, a pure function of the settings and a small file-system
//     interface, deciding whether llama-server may be spawned and, if not,
//     saying why in words a person can act on;
//   - the template written when the user asks to open settings and none exist.
//
// The package never writes an existing settings file: the file belongs to
// the user, and a tray agent that rewrites it (reformatting, dropping
// comments, resetting keys a newer version added) destroys their work.
package settings
