//go:build linux

package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// series is one measured figure over repeated runs, in milliseconds (or the
// unit named by its figure).
type series []float64

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s series) sorted() []float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func (s series) median() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	c := s.sorted()
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

func (s series) min() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Min(s)
}

func (s series) max() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return slices.Max(s)
}

// fmtNum prints a value with a precision suited to its size.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a == 0:
		return "0"
	case a < 0.01:
		return fmt.Sprintf("%.4f", v)
	case a < 1:
		return fmt.Sprintf("%.3f", v)
	case a < 100:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// cell is "median (min–max)" or the single value.
func (s series) cell() string {
	switch len(s) {
	case 0:
		return "n/a"
	case 1:
		return fmtNum(s[0])
	}
	return fmt.Sprintf("%s (%s – %s)", fmtNum(s.median()), fmtNum(s.min()), fmtNum(s.max()))
}
