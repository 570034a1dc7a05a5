package supervisor

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSlots(t *testing.T) {
	tests := []struct {
		body        string
		total, busy int
	}{
		{`[{"id":0,"is_processing":false},{"id":1,"is_processing":true}]`, 2, 1},
		{"[\n  {\n    \"id\": 0,\n    \"is_processing\" : true\n  }\n]", 1, 1},
		{`[]`, 0, 0},
		{`{"error":{"code":501}}`, 0, 0},
		{`[{"is_processing":"yes"}]`, 0, 0},
		{`[{"prompt":"\"is_processing\" in a prompt","is_processing":false}]`, 1, 0},
	}
	for _, tt := range tests {
		if total, busy := parseSlots([]byte(tt.body)); total != tt.total || busy != tt.busy {
			t.Errorf("parseSlots(%s) = %d, %d; want %d, %d", tt.body, total, busy, tt.total, tt.busy)
		}
	}
}

func TestParseMetric(t *testing.T) {
	body := []byte("# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s.\n" +
		"# TYPE llamacpp:predicted_tokens_seconds gauge\n" +
		"llamacpp:predicted_tokens_seconds_total 99\n" +
		"llamacpp:predicted_tokens_seconds 38.2346\n")
	if v, ok := parseMetric(body, "llamacpp:predicted_tokens_seconds"); !ok || v != 38.2346 {
		t.Fatalf("got %v, %v", v, ok)
	}
	if v, ok := parseMetric([]byte(`llamacpp:x{model="a"} 2`), "llamacpp:x"); !ok || v != 2 {
		t.Fatalf("labels: %v, %v", v, ok)
	}
	for _, bad := range []string{"", "llamacpp:x", "llamacpp:x nan-ish", "llamacpp:x -1"} {
		if _, ok := parseMetric([]byte(bad), "llamacpp:x"); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The live reads ride on the health check's connection, and a read that
// goes wrong never spoils the health verdict or outlives the deadline.
func TestCheckReadsOnOneConnection(t *testing.T) {
	var conns, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, `{"status":"ok"}`)
		case "/slots":
			if r.Header.Get("Authorization") != "Bearer k" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `[{"id":0,"is_processing":true},{"id":1,"is_processing":false}]`)
		case "/metrics":
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	a, err := newHTTPProber().check(t.Context(), srv.URL+"/health", liveQuery{slots: true, metrics: true, auth: "Bearer k"})
	if err != nil {
		t.Fatal(err)
	}
	if a.slots != readOK || a.slotsTotal != 2 || a.slotsBusy != 1 || a.metrics != unsupported {
		t.Fatalf("answer %+v", a)
	}
	if conns.Load() != 1 || requests.Load() != 3 {
		t.Fatalf("%d connections, %d requests; want 1, 3", conns.Load(), requests.Load())
	}
	a, err = newHTTPProber().check(t.Context(), srv.URL+"/health", liveQuery{slots: true})
	if err != nil || a.slots != unsupported {
		t.Fatalf("without the key: %+v, %v", a, err)
	}
}

func TestCheckSurvivesHostileLiveEndpoints(t *testing.T) {
	huge := strings.Repeat(`{"is_processing":false},`, maxSlotsBody/20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, `{"status":"ok"}`)
		case "/slots":
			io.WriteString(w, "["+huge+"{}]")
		case "/metrics":
			<-r.Context().Done() // never answers
		}
	}))
	defer srv.Close()
	// A /slots answer past the bound: unknown, and no further request on
	// the connection.
	a, err := newHTTPProber().check(t.Context(), srv.URL+"/health", liveQuery{slots: true, metrics: true})
	if err != nil || a.slots != unsupported || a.metrics != notRead {
		t.Fatalf("huge /slots: %+v, %v", a, err)
	}
	// A /metrics that never answers: cut at the deadline, health still good.
	// The deadline falls after /health: its answer comes at once (a loaded
	// machine gets it through in far less than the 2 s).
	const deadline = 2 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	a, err = newHTTPProber().check(ctx, srv.URL+"/health", liveQuery{metrics: true})
	if err != nil || a.metrics != notRead {
		t.Fatalf("hung /metrics: %+v, %v", a, err)
	}
	if d := time.Since(start); d > deadline+probeBound {
		t.Fatalf("check took %v", d)
	}
}
