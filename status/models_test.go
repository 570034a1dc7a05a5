package status

import (
	"encoding/json"
	"testing"
	"time"
)

func TestModelsJSON(t *testing.T) {
	st := Status{State: Running, PID: 9, Sleeping: true, Models: []ModelState{
		{ID: "qwen", State: ModelLoaded},
		{ID: "big", State: ModelFailed, LastError: "out of memory"},
	}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"state":"running","pid":9,"sleeping":true,"models":[{"id":"qwen","state":"loaded"},{"id":"big","state":"failed","last_error":"out of memory"}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(st) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if got := back.ModelStates()["big"]; got.LastError != "out of memory" {
		t.Fatalf("ModelStates = %v", back.ModelStates())
	}

	// sleeping belongs to running only.
	if b, _ := json.Marshal(Status{State: Stopped, Sleeping: true}); string(b) != `{"state":"stopped"}` {
		t.Fatalf("stopped: %s", b)
	}
}

func TestEqualSeesModels(t *testing.T) {
	a := Status{State: Running, PID: 1, Since: time.Now(), Models: []ModelState{{ID: "x", State: ModelLoading}}}
	b := a
	b.Since = a.Since.Add(time.Hour)
	if !a.Equal(b) {
		t.Fatal("Since alone made a difference")
	}
	b.Models = []ModelState{{ID: "x", State: ModelLoaded}}
	if a.Equal(b) {
		t.Fatal("a model's new state went unseen")
	}
	b.Models = nil
	if a.Equal(b) {
		t.Fatal("models gone went unseen")
	}
}
