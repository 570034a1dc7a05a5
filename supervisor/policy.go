package supervisor

import "time"

// Policy is the restart policy and the timings of docs/settings.md [supervisor].
type Policy struct {
	MaxRestarts         int           // restarts allowed before failed_after_max_restarts; 0 = never restart
	InitialBackoff      time.Duration // wait before restart 1
	MaxBackoff          time.Duration // cap of the doubling wait
	StabilityWindow     time.Duration // a child up this long before failing starts the count afresh
	HealthCheckInterval time.Duration // liveness probe period (and port re-check period)
	HealthCheckTimeout  time.Duration // unhealthy after this long without a good probe
	StartupTimeout      time.Duration // give up on starting after this long
	StopTimeout         time.Duration // SIGTERM to SIGKILL
}

// DefaultPolicy returns the defaults of docs/settings.md, the seed's values plus the
// start-up and stop timeouts.
func DefaultPolicy() Policy {
	return Policy{
		MaxRestarts:         3,
		InitialBackoff:      500 * time.Millisecond,
		MaxBackoff:          10 * time.Second,
		StabilityWindow:     60 * time.Second,
		HealthCheckInterval: 5 * time.Second,
		HealthCheckTimeout:  15 * time.Second,
		StartupTimeout:      10 * time.Minute,
		StopTimeout:         10 * time.Second,
	}
}

// Backoff returns how long restart n (1-based) waits:
// min(InitialBackoff * 2^(n-1), MaxBackoff). It never overflows, whatever n:
// the doubling stops as soon as it reaches the cap.
func (p Policy) Backoff(restart int) time.Duration {
	if restart < 1 || p.InitialBackoff <= 0 {
		return 0
	}
	d := p.InitialBackoff
	for i := 1; i < restart; i++ {
		if d >= p.MaxBackoff || d > (1<<62)/2 {
			break
		}
		d *= 2
	}
	if d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	return d
}

// probeTimeout bounds one liveness probe: min(interval, timeout), so probes
// never overlap and never outlast the unhealthy deadline.
func (p Policy) probeTimeout() time.Duration {
	return min(p.HealthCheckInterval, p.HealthCheckTimeout)
}
