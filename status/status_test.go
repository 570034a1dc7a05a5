package status

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStatusJSONShapes(t *testing.T) {
	since := time.Date(2026, 11, 26, 7, 0, 0, 123456789, time.UTC)
	cases := []struct {
		st   Status
		want string
	}{
		{Status{State: NotSpawning, Reason: "model file ~/x.gguf not found"}, `{"state":"not_spawning","reason":"model file ~/x.gguf not found"}`},
		{Status{State: Starting, PID: 1234}, `{"state":"starting","pid":1234}`},
		{Status{State: Running, PID: 1234, Model: "qwen"}, `{"state":"running","pid":1234,"model":"qwen"}`},
		{Status{State: Restarting, Attempt: 2, MaxRestarts: 3, LastError: "exited with status 1"}, `{"state":"restarting","attempt":2,"last_error":"exited with status 1","max_restarts":3}`},
		{Status{State: FailedAfterMaxRestarts, Attempts: 3, MaxRestarts: 3, LastError: "x", Restarts: 5}, `{"state":"failed_after_max_restarts","attempts":3,"last_error":"x","max_restarts":3,"restarts":5}`},
		{Status{State: FailedAfterMaxRestarts, Attempts: 0, LastError: "x"}, `{"state":"failed_after_max_restarts","attempts":0,"last_error":"x","max_restarts":0}`},
		{Status{State: Stopped, Since: since}, `{"state":"stopped","since":"2026-11-26T07:00:00.123456789Z"}`},
		{Status{State: Running, PID: 7, SettingsError: "bad", Warning: "host", Restarts: 1}, `{"state":"running","pid":7,"settings_error":"bad","warning":"host","restarts":1}`},
		// The budget belongs to restarting and failed only.
		{Status{State: Running, PID: 7, MaxRestarts: 3}, `{"state":"running","pid":7}`},
		// A reason is only part of not_spawning.
		{Status{State: Stopped, Reason: "stale"}, `{"state":"stopped"}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.st)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got  %s\nwant %s", b, c.want)
		}
		var back Status
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != c.want {
			t.Errorf("round trip %s -> %s", c.want, again)
		}
	}
}

func TestUnmarshalRejectsUnknownState(t *testing.T) {
	var s Status
	if err := json.Unmarshal([]byte(`{"state":"exploded"}`), &s); err == nil {
		t.Fatal("accepted an unknown state")
	}
}

func TestTransitionTable(t *testing.T) {
	legal := map[[2]State]bool{}
	for _, p := range [][2]State{
		{NotSpawning, NotSpawning}, {NotSpawning, Starting}, {NotSpawning, Stopped},
		{Starting, NotSpawning}, {Starting, Starting}, {Starting, Running}, {Starting, Restarting}, {Starting, FailedAfterMaxRestarts}, {Starting, Stopped},
		{Running, NotSpawning}, {Running, Starting}, {Running, Restarting}, {Running, FailedAfterMaxRestarts}, {Running, Stopped},
		{Restarting, NotSpawning}, {Restarting, Starting}, {Restarting, Stopped},
		{FailedAfterMaxRestarts, NotSpawning}, {FailedAfterMaxRestarts, Starting}, {FailedAfterMaxRestarts, Stopped},
		{Stopped, NotSpawning}, {Stopped, Starting}, {Stopped, Stopped},
	} {
		legal[p] = true
	}
	for _, from := range States {
		for _, to := range States {
			if got := LegalTransition(from, to); got != legal[[2]State{from, to}] {
				t.Errorf("LegalTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
	for _, to := range []State{Running, Restarting, FailedAfterMaxRestarts} {
		if LegalTransition("", to) {
			t.Errorf("initial -> %s allowed", to)
		}
	}
}
