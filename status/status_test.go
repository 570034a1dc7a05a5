package status

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
		{Status{State: FailedAfterMaxRestarts, Attempts: 0, LastError: "x", Hint: "do y"}, `{"state":"failed_after_max_restarts","attempts":0,"last_error":"x","max_restarts":0,"hint":"do y"}`},
		{Status{State: Running, PID: 7, URL: "http://127.0.0.1:8080", Activity: Activity{SlotsBusy: 1, SlotsTotal: 4, TokensPerSecond: 38.2, RSSBytes: 5400000000}},
			`{"state":"running","pid":7,"url":"http://127.0.0.1:8080","activity":{"slots_busy":1,"slots_total":4,"tokens_per_second":38.2,"rss_bytes":5400000000}}`},
		// Zero busy slots is a fact; slots, speed or memory not offered are left out.
		{Status{State: Running, PID: 7, Activity: Activity{SlotsTotal: 1}, Sleeping: true}, `{"state":"running","pid":7,"activity":{"slots_busy":0,"slots_total":1},"sleeping":true}`},
		{Status{State: Running, PID: 7, Activity: Activity{RSSBytes: 27000000}}, `{"state":"running","pid":7,"activity":{"rss_bytes":27000000}}`},
		// Activity and sleeping only while running; url only with a child.
		{Status{State: Restarting, Attempt: 1, URL: "http://x", Activity: Activity{SlotsTotal: 1}, Sleeping: true}, `{"state":"restarting","attempt":1,"last_error":"","max_restarts":0}`},
		{Status{State: Starting, PID: 3, URL: "http://127.0.0.1:8080"}, `{"state":"starting","pid":3,"url":"http://127.0.0.1:8080"}`},
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

// Every text field is bounded, whatever its size: found by reflection, so a
// field added later without a bound fails here.
func TestBounded(t *testing.T) {
	huge := strings.Repeat("é", 3*MaxField) // two bytes each: cuts land mid-character
	var st Status
	v := reflect.ValueOf(&st).Elem()
	var names []string
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(huge)
			names = append(names, v.Type().Field(i).Name)
		}
	}
	st.State, st.PID, st.Attempt = Restarting, 42, 2
	b := st.Bounded()
	bv := reflect.ValueOf(b)
	for _, name := range names {
		if name == "State" {
			continue
		}
		got := bv.FieldByName(name).String()
		if len(got) > MaxField || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || !strings.HasPrefix(huge, strings.TrimSuffix(got, "…")) {
			t.Errorf("Bounded().%s: %d bytes, valid UTF-8 %v, ends %q", name, len(got), utf8.ValidString(got), got[max(0, len(got)-8):])
		}
	}
	if b.State != Restarting || b.PID != 42 || b.Attempt != 2 {
		t.Errorf("Bounded changed the other fields: %+v", b)
	}
	short := Status{State: NotSpawning, Reason: "model file x.gguf not found", Model: "x"}
	if !reflect.DeepEqual(short.Bounded(), short) {
		t.Errorf("Bounded changed a short status: %+v", short.Bounded())
	}
	exact := Status{State: NotSpawning, Reason: strings.Repeat("a", MaxField)}
	if !reflect.DeepEqual(exact.Bounded(), exact) {
		t.Error("Bounded cut a field of exactly MaxField bytes")
	}
}

// What the hub hands out is bounded: its current status and every event.
func TestHubPublishesBounded(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	h := NewHub(Status{State: NotSpawning, Reason: huge})
	if n := len(h.Status().Reason); n > MaxField {
		t.Fatalf("initial reason %d bytes", n)
	}
	sub := h.Subscribe(4)
	defer sub.Close()
	<-sub.C
	h.Publish(Status{State: Running, PID: 1, SettingsError: huge, Warning: huge}, time.Now())
	ev := <-sub.C
	for _, st := range []Status{ev.Status, h.Status()} {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 3*MaxField {
			t.Fatalf("published status is %d bytes of JSON", len(b))
		}
	}
}

// A terminal would act on bidi and C1 controls that encoding/json leaves
// raw: the JSON carries them escaped, and reads back the same.
func TestJSONEscapesInvisibleControls(t *testing.T) {
	st := Status{State: NotSpawning, Reason: "model \u202egnp.exe\u0085 not found"}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"state":"not_spawning","reason":"model \u202egnp.exe\u0085 not found"}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil || back.Reason != st.Reason {
		t.Fatalf("read back %q, %v", back.Reason, err)
	}
}
