package fakellama

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// slots are the server's parallel sequences (-np): a completion takes a free
// slot, keeps it processing for the generate knob's time or until its client
// goes away, and counts its tokens for /metrics. With every slot busy a
// request waits for one (it is "deferred").
type slots struct {
	generate time.Duration
	tps      float64

	mu       sync.Mutex
	busy     []bool
	taskIDs  []int
	nextTask int
	free     chan struct{} // a token whenever a slot is released
	deferred int
	// /metrics: totals, and the bucket since the last read (the real
	// server resets it on each read of /metrics).
	tokensTotal, secondsTotal   float64
	bucketTokens, bucketSeconds float64
}

func newSlots(n int, generate time.Duration, tps float64) *slots {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = -1
	}
	return &slots{generate: generate, tps: tps, busy: make([]bool, n), taskIDs: ids, free: make(chan struct{}, 1)}
}

// run processes one completion: it waits for a free slot, keeps it busy,
// and reports whether it ran to the end (not cut off by its client).
func (s *slots) run(ctx context.Context) bool {
	id := -1
	for id < 0 {
		s.mu.Lock()
		for i, b := range s.busy {
			if !b {
				id = i
				break
			}
		}
		if id >= 0 {
			s.busy[id] = true
			s.taskIDs[id] = s.nextTask
			s.nextTask++
		} else {
			s.deferred++
		}
		s.mu.Unlock()
		if id >= 0 {
			break
		}
		select {
		case <-s.free:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.deferred--
		s.mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
	}
	start := time.Now()
	t := time.NewTimer(s.generate)
	done := true
	select {
	case <-t.C:
	case <-ctx.Done():
		done = false // the real server cancels a task whose client went away
	}
	t.Stop()
	elapsed := time.Since(start).Seconds()
	s.mu.Lock()
	s.busy[id] = false
	tokens := s.tps * elapsed
	s.tokensTotal += tokens
	s.secondsTotal += elapsed
	s.bucketTokens += tokens
	s.bucketSeconds += elapsed
	s.mu.Unlock()
	select {
	case s.free <- struct{}{}:
	default:
	}
	return done
}

// list is the body of GET /slots: one object per slot, with the fields a
// client reads most (is_processing above all).
func (s *slots) list(ctx int) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(s.busy))
	for i, b := range s.busy {
		out[i] = map[string]any{
			"id": i, "id_task": s.taskIDs[i], "n_ctx": ctx / len(s.busy),
			"speculative": false, "is_processing": b,
			"params": map[string]any{"n_predict": -1, "temperature": 0.8, "top_k": 40, "top_p": 0.95},
		}
	}
	return out
}

// metrics is the body of GET /metrics in Prometheus text, as the real server
// writes it; reading it empties the throughput bucket.
func (s *slots) metrics() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	processing := 0
	for _, b := range s.busy {
		if b {
			processing++
		}
	}
	tps := 0.0
	if s.bucketTokens > 0 && s.bucketSeconds > 0 {
		tps = s.bucketTokens / s.bucketSeconds
	}
	s.bucketTokens, s.bucketSeconds = 0, 0
	var b strings.Builder
	metric := func(name, typ, help string, v float64) {
		fmt.Fprintf(&b, "# HELP llamacpp:%s %s\n# TYPE llamacpp:%s %s\nllamacpp:%s %.6g\n", name, help, name, typ, name, v)
	}
	metric("prompt_tokens_total", "counter", "Number of prompt tokens processed.", 0)
	metric("prompt_seconds_total", "counter", "Prompt process time", 0)
	metric("tokens_predicted_total", "counter", "Number of generation tokens processed.", float64(int64(s.tokensTotal)))
	metric("tokens_predicted_seconds_total", "counter", "Predict process time", s.secondsTotal)
	metric("prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.", 0)
	metric("predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.", tps)
	metric("requests_processing", "gauge", "Number of requests processing.", float64(processing))
	metric("requests_deferred", "gauge", "Number of requests deferred.", float64(s.deferred))
	return b.String()
}
