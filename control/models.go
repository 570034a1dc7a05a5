package control

import (
	"context"
	"encoding/json"
	"fmt"
)

// The model commands.
const (
	cmdUse    = "use"
	cmdLoad   = "load"
	cmdUnload = "unload"
)

// ModelControls are the model verbs a client may ask of the agent. Each
// checks what it can at once (the model exists, the settings file may be
// edited) and returns a line saying what it asked for, or why it cannot;
// the outcome shows in the status.
type ModelControls interface {
	// Use makes model the model: model_id in the settings file (and, with
	// a router, loaded).
	Use(model string) (string, error)
	// Load loads model into the router.
	Load(model string) (string, error)
	// Unload unloads model from the router; "" unloads every model.
	Unload(model string) (string, error)
}

// modelRequest answers use, load and unload.
func (s *Server) modelRequest(req request) []byte {
	m := s.src.Models
	if m == nil {
		return errorLine("this agent does not manage models")
	}
	var msg string
	var err error
	switch req.Cmd {
	case cmdUse:
		msg, err = m.Use(req.Model)
	case cmdLoad:
		msg, err = m.Load(req.Model)
	case cmdUnload:
		msg, err = m.Unload(req.Model)
	}
	if err != nil {
		return errorLine(err.Error())
	}
	b, _ := json.Marshal(reply{OK: true, Message: msg}) // strings and a bool cannot fail
	return b
}

// Model sends "use", "load" or "unload" for model ("" with unload: every
// model) and returns the agent's line saying what it asked for.
func (c *Client) Model(ctx context.Context, cmd, model string) (string, error) {
	switch cmd {
	case cmdUse, cmdLoad, cmdUnload:
	default:
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	x, err := c.send(ctx, request{Cmd: cmd, Model: model})
	if err != nil {
		return "", err
	}
	defer x.close()
	line, err := x.readLine()
	if err != nil {
		return "", replyError(err, x.werr)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return "", fmt.Errorf("control socket: bad reply %q: %w", line, err)
	}
	if r.Error != nil {
		return "", agentError(*r.Error)
	}
	if !r.OK {
		return "", fmt.Errorf("control socket: unexpected reply %q", line)
	}
	return r.Message, nil
}
