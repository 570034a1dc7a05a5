package control

import "github.com/OpenCircuitDev/ocm-tray/status"

// Controls are the verbs a client may ask of the supervisor. Each posts a
// request and returns at once; the outcome shows in the status.
type Controls interface {
	Start()
	Stop()
	Restart()
}

// Source is what the server reads and acts on: the hub the supervisor
// publishes to, and the supervisor's verbs.
type Source struct {
	Hub      *status.Hub
	Controls Controls
	// Models are the model verbs; nil answers them with an error.
	Models ModelControls
}
