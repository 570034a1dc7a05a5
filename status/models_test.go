package status

import (
	"encoding/json"
	"strings"
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

func TestBoundedModels(t *testing.T) {
	long := strings.Repeat("x", 10*maxModelField)
	ms := make([]ModelState, 2*MaxModels)
	for i := range ms {
		ms[i] = ModelState{ID: long, State: ModelFailed, LastError: long}
	}
	b := Status{State: Running, Models: ms}.Bounded()
	if len(b.Models) != MaxModels || len(b.Models[0].ID) > maxModelField || len(b.Models[0].LastError) > maxModelField {
		t.Fatalf("%d models, id %d bytes", len(b.Models), len(b.Models[0].ID))
	}
	if ms[0].ID != long {
		t.Fatal("Bounded changed the caller's slice")
	}
	small := []ModelState{{ID: "a", State: ModelLoaded}}
	if b := (Status{Models: small}).Bounded(); &b.Models[0] != &small[0] {
		t.Fatal("a small list was copied")
	}
}
