package settings

import (
	"testing"
	"time"
)

func TestModelsTable(t *testing.T) {
	s, probs := Parse("s.toml", []byte("[models]\nmode = \"router\"\nmax_loaded = 0\nsleep_after = \"90s\"\n"))
	if len(probs) != 0 || s.Models != (ModelsSettings{Mode: ModeRouter, MaxLoaded: 0, SleepAfter: Duration(90 * time.Second)}) {
		t.Fatalf("%+v %v", s.Models, probs)
	}
	for _, tc := range []struct {
		doc  string
		want want
	}{
		{"[models]\nmode = \"routr\"\n", want{2, "models.mode", `"routr" is not a mode`, `use "single"`, false}},
		{"[models]\nmax_loaded = -1\n", want{2, "models.max_loaded", "-1 is out of range", "use 0 (no limit) up to 1000", false}},
		{"[models]\nmax_loaded = 5000\n", want{2, "models.max_loaded", "5000 is out of range", "", false}},
		{"[models]\nsleep_after = \"-5s\"\n", want{2, "models.sleep_after", "-5s is negative", `"0s" (never)`, false}},
		{"[models]\nsleep_after = \"25h\"\n", want{2, "models.sleep_after", "longer than 24h", "", false}},
		{"[models]\nsleep_after = 600\n", want{2, "models.sleep_after", "600 is a number without a unit", `sleep_after = "10m"`, false}},
		{"[models]\nsleep_after = \"soon\"\n", want{2, "models.sleep_after", `"soon" is not a duration`, "", false}},
		{"[models]\ncolour = 1\n", want{2, "models.colour", "unknown key", "", true}},
		{"llama_server_args = [\"--models-dir\", \"/m\"]\n", want{1, "llama_server_args", `"--models-dir" is set by ocm-tray`, "set models_dir", false}},
		{"llama_server_args = [\"--sleep-idle-seconds=5\"]\n", want{1, "llama_server_args", "is set by ocm-tray", "set sleep_after under [models]", false}},
		{"llama_server_args = [\"--models-max\", \"2\"]\n", want{1, "llama_server_args", "is set by ocm-tray", "set max_loaded under [models]", false}},
	} {
		_, probs := Parse("s.toml", []byte(tc.doc))
		if len(probs) != 1 || !tc.want.match(probs[0]) {
			t.Errorf("%q:\n got %v\nwant %+v", tc.doc, probs, tc.want)
		}
	}
}

func TestSleepSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 10 * time.Minute: 600} {
		if got := (ModelsSettings{SleepAfter: Duration(d)}).SleepSeconds(); got != want {
			t.Errorf("SleepSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
