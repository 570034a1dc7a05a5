package testenv

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// NoLeaks fails the test if a goroutine that started during it is still
// running once it ended: whatever the test started (servers, watchers,
// connections) must have stopped. Call it first in the test, so that its
// check runs after every cleanup registered later. Goroutines wind down
// asynchronously, so it waits up to WaitLimit for them before failing with
// their stacks. It tells goroutines apart by id, not by count: one that
// ended cannot hide one that leaked. Not for parallel tests, whose
// goroutines it would count as leaks.
func NoLeaks(t testing.TB) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		var leaked []string
		if Poll(leakWait, func() bool { leaked = startedSince(before); return len(leaked) == 0 }) {
			return
		}
		t.Errorf("%d goroutine(s) started during the test still run %v after it:\n\n%s",
			len(leaked), leakWait, strings.Join(leaked, "\n\n"))
	})
}

// leakWait is how long NoLeaks waits for goroutines to end (shorter in
// this package's own tests).
var leakWait = WaitLimit

// goroutines returns the stack of every goroutine, by id.
func goroutines() map[int]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		// "goroutine 42 [chan receive]:\n..."
		rest, ok := bytes.CutPrefix(g, []byte("goroutine "))
		if !ok {
			continue
		}
		idText, _, _ := bytes.Cut(rest, []byte(" "))
		id, err := strconv.Atoi(string(idText))
		if err != nil {
			continue
		}
		out[id] = string(g)
	}
	return out
}

// startedSince lists the stacks of the goroutines that are not in before.
func startedSince(before map[int]string) []string {
	var out []string
	for id, stack := range goroutines() {
		if _, ok := before[id]; !ok {
			out = append(out, stack)
		}
	}
	return out
}
