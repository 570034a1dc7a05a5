package control

import "github.com/OpenCircuitDev/ocm-tray/supervisor"

// Agent is what the server needs from the supervisor. SupervisorAgent adapts
// a *supervisor.Supervisor; tests supply fakes.
//
// Subscribe returns a Feed rather than a *supervisor.Subscription because a
// Subscription can only be made by the supervisor package: an interface lets
// a fake agent publish, cut off a slow reader and stop on its own terms.
type Agent interface {
	Status() supervisor.Status
	Subscribe(buffer int) Feed
	Start()
	Stop()
	Restart()
}

// Feed is one subscription to status changes, with the semantics of
// supervisor.Subscription: Events delivers every change in order, the
// current status first (stamped with its Since); it is closed when the feed
// ends, and Err then says why (nil when the supervisor stopped,
// supervisor.ErrSlowSubscriber when the reader fell behind).
type Feed interface {
	Events() <-chan supervisor.Event
	// Err reports why Events was closed; call it only after that.
	Err() error
	// Close ends the feed; safe to call more than once.
	Close()
}

// SupervisorAgent adapts s to Agent.
func SupervisorAgent(s *supervisor.Supervisor) Agent { return supervisorAgent{s} }

type supervisorAgent struct{ *supervisor.Supervisor }

func (a supervisorAgent) Subscribe(buffer int) Feed {
	return subscriptionFeed{a.Supervisor.Subscribe(buffer)}
}

type subscriptionFeed struct{ *supervisor.Subscription }

func (f subscriptionFeed) Events() <-chan supervisor.Event { return f.C }
