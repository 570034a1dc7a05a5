package notify

import (
	"reflect"
	"testing"
)

func TestQueueCoalesces(t *testing.T) {
	n := func(s string) Message { return Message{Summary: s} }
	c := func(s string) Message { return Message{Summary: s, Critical: true} }
	tests := []struct {
		name string
		put  []Message
		want []Message
	}{
		{"one", []Message{n("a")}, []Message{n("a")}},
		{"newest non-critical wins", []Message{n("a"), n("b"), n("c")}, []Message{n("c")}},
		{"critical replaces older", []Message{n("a"), c("b")}, []Message{c("b")}},
		{"newer critical replaces older critical", []Message{c("a"), c("b")}, []Message{c("b")}},
		{"non-critical queues behind critical", []Message{c("a"), n("b")}, []Message{c("a"), n("b")}},
		{"only the newest behind critical", []Message{c("a"), n("b"), n("c"), n("d")}, []Message{c("a"), n("d")}},
		{"burst", []Message{n("1"), c("2"), n("3"), n("4"), c("5"), n("6")}, []Message{c("5"), n("6")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue()
			for _, m := range tt.put {
				q.put(m)
			}
			var got []Message
			for {
				m, ok, _ := q.take()
				if !ok {
					break
				}
				got = append(got, m)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("took %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueueTakeInterleaved(t *testing.T) {
	q := newQueue()
	q.put(Message{Summary: "crit", Critical: true})
	if m, _, _ := q.take(); m.Summary != "crit" {
		t.Fatalf("took %q", m.Summary)
	}
	// Taken critical messages are gone: a new non-critical one stands alone.
	q.put(Message{Summary: "a"})
	q.put(Message{Summary: "b"})
	if m, _, _ := q.take(); m.Summary != "b" {
		t.Fatalf("took %q, want b", m.Summary)
	}
	if _, ok, closed := q.take(); ok || closed {
		t.Fatalf("take on empty open queue: ok=%v closed=%v", ok, closed)
	}
	q.put(Message{Summary: "last"})
	q.close()
	if m, ok, closed := q.take(); !ok || !closed || m.Summary != "last" {
		t.Fatalf("take after close: %q ok=%v closed=%v", m.Summary, ok, closed)
	}
	if _, ok, closed := q.take(); ok || !closed {
		t.Fatalf("drained closed queue: ok=%v closed=%v", ok, closed)
	}
}
