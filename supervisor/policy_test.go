package supervisor

import (
	"math"
	"testing"
	"time"
)

func TestBackoffSchedule(t *testing.T) {
	p := Policy{InitialBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second}
	cases := []struct {
		restart int
		want    time.Duration
	}{
		{0, 0}, {-5, 0},
		{1, 500 * time.Millisecond}, {2, time.Second}, {3, 2 * time.Second}, {4, 4 * time.Second},
		{5, 8 * time.Second}, {6, 10 * time.Second}, {7, 10 * time.Second},
		{63, 10 * time.Second}, {64, 10 * time.Second}, {255, 10 * time.Second}, {1 << 20, 10 * time.Second},
		{math.MaxInt, 10 * time.Second},
	}
	for _, c := range cases {
		if got := p.Backoff(c.restart); got != c.want {
			t.Errorf("Backoff(%d) = %v, want %v", c.restart, got, c.want)
		}
	}
}

// A cap near the largest Duration must not overflow into a negative wait.
func TestBackoffHugeCapNeverOverflows(t *testing.T) {
	p := Policy{InitialBackoff: time.Nanosecond, MaxBackoff: time.Duration(math.MaxInt64)}
	prev := time.Duration(0)
	for n := 1; n < 200; n++ {
		d := p.Backoff(n)
		if d <= 0 || d < prev {
			t.Fatalf("Backoff(%d) = %v after %v", n, d, prev)
		}
		prev = d
	}
	if got := p.Backoff(math.MaxInt); got <= 0 {
		t.Fatalf("Backoff(MaxInt) = %v", got)
	}
}

func TestInitialAboveMaxIsCapped(t *testing.T) {
	p := Policy{InitialBackoff: time.Minute, MaxBackoff: time.Second}
	if got := p.Backoff(1); got != time.Second {
		t.Fatalf("got %v", got)
	}
}
