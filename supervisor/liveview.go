package supervisor

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strconv"

	"github.com/OpenCircuitDev/ocm-tray/status"
)

// The live view: while the server runs, each health check may be followed,
// on the same connection, by GET /slots (which slots are processing) and,
// only when a slot was busy since the last reading, GET /metrics (the
// server's own tokens per second). An idle server thus costs one request
// beside the probe. The child's memory comes from /proc, not from the
// server. Everything runs on the probe's goroutine and comes back to the
// run loop with the probe's result; nothing here blocks supervision.

// Bounds of the live reads. A /slots answer grows with the slots and what
// each holds; one larger than this is not read.
const (
	maxSlotsBody   = 1 << 20
	maxMetricsBody = 64 << 10
)

// liveQuery says what one health check should read beside /health.
type liveQuery struct {
	slots   bool       // GET /slots
	metrics bool       // GET /metrics
	auth    string     // the Authorization header for them ("Bearer KEY"), if the server wants a key
	mem     *memReader // the child's memory, from /proc; nil: not read
}

// wants reports whether q asks for HTTP reads beside /health.
func (q liveQuery) wants() bool { return q.slots || q.metrics }

// active reports whether q asks for anything at all.
func (q liveQuery) active() bool { return q.wants() || q.mem != nil }

// readState is how one live read went.
type readState int

const (
	notRead     readState = iota // not asked, or failed this time: unknown
	readOK                       // the answer is in
	unsupported                  // the server has no such endpoint (404, 501) or refuses it (401, 400): stop asking
)

// liveAnswer is what the live reads found.
type liveAnswer struct {
	slots      readState
	slotsTotal int
	slotsBusy  int

	metrics readState
	tps     float64 // llamacpp:predicted_tokens_seconds; 0 when no request finished since the last read

	rss uint64 // bytes; 0 unknown
}

// readLive makes the reads q asks for on c, whose /health answered 200.
func readLive(c *httpConn, q liveQuery) liveAnswer {
	var a liveAnswer
	path := func(p string) string { return (&url.URL{Path: p}).RequestURI() }
	if q.slots {
		code, _, body, err := c.get(path("/slots"), q.auth, !q.metrics, maxSlotsBody)
		a.slots = answerState(code, err)
		cut := int64(len(body)) >= maxSlotsBody
		if a.slots == readOK {
			a.slotsTotal, a.slotsBusy = parseSlots(body)
			if a.slotsTotal == 0 || cut {
				// Not the list we know, or too big to read every interval.
				a.slots, a.slotsTotal, a.slotsBusy = unsupported, 0, 0
			}
		}
		if err != nil || cut {
			return a // the connection is in no state for another request
		}
	}
	if q.metrics {
		code, _, body, err := c.get(path("/metrics"), q.auth, true, maxMetricsBody)
		a.metrics = answerState(code, err)
		if a.metrics == readOK {
			var ok bool
			if a.tps, ok = parseMetric(body, "llamacpp:predicted_tokens_seconds"); !ok {
				a.metrics = unsupported
			}
		}
	}
	return a
}

// answerState sorts an answer: 200 is an answer, an endpoint the server
// does not have or will not give us is not worth asking again, anything
// else (a timeout, a 503 while it is busy) is unknown this time.
func answerState(code int, err error) readState {
	switch {
	case err != nil:
		return notRead
	case code == http.StatusOK:
		return readOK
	case code == http.StatusNotFound, code == http.StatusNotImplemented, code == http.StatusUnauthorized,
		code == http.StatusForbidden, code == http.StatusBadRequest:
		// 501: started without --metrics (or with --no-slots); 400: a
		// router wants ?model=; 401: a key we do not have.
		return unsupported
	}
	return notRead
}

// parseSlots counts the slots of a /slots answer and those processing, by
// their "is_processing" members. It scans instead of decoding: a slot
// carries dozens of other fields (and may carry its prompt), and decoding
// them all every health interval would cost more than the request.
func parseSlots(body []byte) (total, busy int) {
	key := []byte(`"is_processing"`)
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return total, busy
		}
		body = bytes.TrimLeft(body[i+len(key):], " \t\r\n")
		if len(body) == 0 || body[0] != ':' {
			continue
		}
		body = bytes.TrimLeft(body[1:], " \t\r\n")
		switch {
		case bytes.HasPrefix(body, []byte("true")):
			total++
			busy++
		case bytes.HasPrefix(body, []byte("false")):
			total++
		}
	}
}

// parseMetric finds one sample in Prometheus text: the line "name value"
// or "name{labels} value".
func parseMetric(body []byte, name string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(name))
		if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '{') {
			continue // a comment, another metric, or a longer name
		}
		if rest[0] == '{' {
			end := bytes.IndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		if f := bytes.Fields(rest); len(f) > 0 {
			v, err := strconv.ParseFloat(string(f[0]), 64)
			return v, err == nil && v >= 0
		}
	}
	return 0, false
}

// liveState is the run loop's side of the live view, for the current child.
type liveState struct {
	slotsOff, metricsOff bool // the server said no: not asked again for this child
	// busySince is set when a reading found a slot processing, and cleared
	// by the next /metrics reading: /metrics is only worth reading after
	// something ran (its throughput counts the requests finished since the
	// last read).
	busySince bool
	act       status.Activity // what the status shows
	mem       *memReader
}

// reset forgets everything about the previous child.
func (l *liveState) reset(pid int) {
	*l = liveState{mem: newMemReader(pid)}
}

// query is what the next health check should read.
func (l *liveState) query(auth string) liveQuery {
	return liveQuery{slots: !l.slotsOff, metrics: !l.metricsOff && l.busySince, auth: auth, mem: l.mem}
}

// merge takes in one reading and returns the activity to show.
func (l *liveState) merge(a liveAnswer) status.Activity {
	act := l.act
	switch a.slots {
	case readOK:
		act.SlotsTotal, act.SlotsBusy = a.slotsTotal, a.slotsBusy
		if a.slotsBusy > 0 {
			l.busySince = true
		}
	case unsupported:
		l.slotsOff = true
		act.SlotsTotal, act.SlotsBusy = 0, 0
	}
	switch a.metrics {
	case readOK:
		l.busySince = a.slots == readOK && a.slotsBusy > 0
		// Zero means nothing finished since the last read: the last
		// figure still describes the server.
		if a.tps > 0 {
			act.TokensPerSecond = roundTPS(a.tps)
		}
	case unsupported:
		l.metricsOff = true
	}
	if a.rss > 0 && !closeEnough(act.RSSBytes, a.rss) {
		act.RSSBytes = a.rss
	}
	l.act = act
	return act
}

// roundTPS keeps one decimal: finer changes are noise, and each change is a
// status update.
func roundTPS(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// closeEnough reports whether a new RSS reading differs from the shown one
// by less than 1 % or 1 MiB, whichever is more: memory moves by pages all
// the time, a person reads it in MB or tenths of a GB, and each change
// shown is a status update for every reader.
func closeEnough(shown, now uint64) bool {
	if shown == 0 {
		return false
	}
	d := int64(now) - int64(shown)
	if d < 0 {
		d = -d
	}
	return uint64(d) < max(shown/100, 1<<20)
}

// wantsLive reports whether the health checks of a state carry the live
// view's reads.
func wantsLive(c Config, s status.State) bool { return c.LiveView && s == status.Running }
