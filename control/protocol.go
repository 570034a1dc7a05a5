package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// The commands a client may send.
const (
	cmdStatus  = "status"
	cmdWatch   = "watch"
	cmdStart   = "start"
	cmdStop    = "stop"
	cmdRestart = "restart"
	cmdQuit    = "quit"
)

// maxRequest bounds a request line, newline included.
const maxRequest = 4096

// maxReply bounds a reply line the client accepts. A status is small, but
// last_error carries stderr lines; be generous without being unbounded.
const maxReply = 1 << 20

type request struct {
	Cmd   string `json:"cmd"`
	Model string `json:"model,omitempty"` // use, load, unload
}

// reply is the union of the non-status replies; Error is a pointer so that
// "present" is explicit.
type reply struct {
	OK    bool    `json:"ok,omitempty"`
	Error *string `json:"error,omitempty"`
	At    string  `json:"at,omitempty"`
	// Message says what a model command asked for, in words.
	Message string `json:"message,omitempty"`
}

var okLine = []byte(`{"ok":true}`)

func requestLine(req request) []byte {
	b, _ := json.Marshal(req) // a struct of strings cannot fail
	return append(b, '\n')
}

func errorLine(msg string) []byte {
	b, _ := json.Marshal(reply{Error: &msg})
	return b
}

func statusLine(st status.Status) ([]byte, error) {
	return json.Marshal(st)
}

// watchLine is the status JSON with "at" spliced in as its last member, so
// the line reads like a status (state first) and stays one flat object.
func watchLine(ev status.Event) ([]byte, error) {
	b, err := json.Marshal(ev.Status)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("status JSON is not an object: %s", b)
	}
	at, _ := json.Marshal(ev.At.Format(status.SinceFormat))
	out := make([]byte, 0, len(b)+len(at)+6)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"at":`...)
	out = append(out, at...)
	return append(out, '}'), nil
}

// errLineTooLong is returned by readLine for a line over its limit.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its newline, in a fresh slice. A
// last line without a newline is io.ErrUnexpectedEOF (the server always ends
// its lines); a clean end of stream is io.EOF.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > limit {
			return nil, errLineTooLong
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// agentError turns an {"error":...} line into an error; the slow-watcher
// message maps back to status.ErrSlowSubscriber so callers can branch.
func agentError(msg string) error {
	if msg == status.ErrSlowSubscriber.Error() {
		return fmt.Errorf("agent: %w", status.ErrSlowSubscriber)
	}
	return fmt.Errorf("agent: %s", msg)
}
