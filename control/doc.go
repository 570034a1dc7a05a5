// Package control is the running agent's control socket and its
// single-instance lock (docs/architecture.md, "Files" and "Control socket").
//
// # Protocol
//
// Newline-delimited JSON over a unix stream socket (0600, in the 0700
// runtime directory); on Windows over the named pipe
// \\.\pipe\ocm-tray-<user SID>, whose security descriptor admits that user
// alone. A client connects, writes one request line of at most
// 4 KiB:
//
//	{"cmd":"status"|"watch"|"start"|"stop"|"restart"|"quit"}
//
// and reads the reply; one request per connection:
//
//   - status: the Status JSON of docs/status.md, one line; then the server closes.
//   - start, stop, restart: {"ok":true} once the supervisor has the request.
//   - quit: {"ok":true}, written by Close, i.e. after the supervisor's Run
//     returned (the child is reaped) and just before the agent exits.
//   - watch: one line per status change, the current status first: the
//     Status JSON with an extra "at" (RFC 3339 with nanoseconds; on the first
//     line at = since). When the supervisor stops, the stream ends after the
//     final {"state":"stopped",...} line and the server closes. A watcher that
//     falls too far behind gets one {"error":"..."} line, then the close. The
//     client keeps its side open: the server takes the end of its input for
//     the watcher going away and ends the stream at once.
//
// Anything else (too long, not JSON, an unknown cmd, too many requests at
// once, too many watchers) is answered with one {"error":"..."} line and the
// close; a client that has not sent its request within 5 s is dropped.
// Requests and watchers are capped separately, 64 each, so that watchers
// never keep a command out. Every status line is bounded (status.Bounded):
// the client accepts lines of up to 1 MiB. The lines the client hands out
// are the server's bytes verbatim: `status --json` and `status --watch
// --json` print them as they are.
//
// # Trust
//
// The socket is 0600 in a directory of mode 0700 that the agent and the
// command line check (owner, mode, not a symlink). Dial also asks the
// kernel for the listener's uid and refuses any but its own, so that a
// socket of another user, wherever it comes from, never answers for our
// agent. On Windows the pipe's security descriptor does that work.
//
// # Goroutines
//
// Serve runs the accept loop in its caller's goroutine and starts one
// goroutine per connection (two for a watch: one also reads, to notice the
// peer going away). Close ends them all and waits for them.
package control
