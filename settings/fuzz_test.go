package settings

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzParse: Parse never panics; every problem names the file and has a key
// or a line and a fix, and prints on one line (check's output is
// line-based); settings without errors survive a marshal round trip.
// Seeds live in testdata/fuzz/FuzzParse, so plain `go test` runs them.
func FuzzParse(f *testing.F) {
	f.Add(Template())
	f.Add([]byte("backend = \"llamacpp\"\nmodel_id = \"m\"\n[supervisor]\ninitial_backoff = 500\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "/fuzz/settings.toml"
		s, probs := Parse(file, data)
		for _, p := range probs {
			if p.File != file || (p.Key == "" && p.Line <= 0) || p.Fix == "" || p.Msg == "" {
				t.Fatalf("incomplete problem %#v", p)
			}
			if strings.ContainsAny(p.String(), "\n\r") {
				t.Fatalf("problem spans lines: %q", p.String())
			}
		}
		if HasErrors(probs) {
			return
		}
		out, err := toml.Marshal(s)
		if err != nil {
			t.Fatalf("marshal valid settings: %v", err)
		}
		back, probs2 := Parse(file, out)
		if HasErrors(probs2) {
			t.Fatalf("re-parse of\n%s\ngives %v", out, probs2)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip:\n%+v\n%+v", s, back)
		}
	})
}

// FuzzEndpoint: Endpoint never panics, and what it accepts is a usable
// host and port that a URL built from them gives back.
func FuzzEndpoint(f *testing.F) {
	for _, u := range []string{DefaultBaseURL, "http://[::1]:8081/v1", "http://0.0.0.0:1", "http://h", "https://x:1", "http://[fe80::1%25eth0]:80"} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		host, port, err := Endpoint(Settings{InferenceBaseURL: raw})
		_ = IsLoopback(raw)
		_ = ProbeHost(raw)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if host == "" || port < 1 || port > 65535 || !validHost(host) || ProbeHost(host) == "" {
			t.Fatalf("Endpoint(%q) = %q, %d", raw, host, port)
		}
		if strings.Contains(host, "%") {
			return // zones would need escaping as %25 in a URL
		}
		again := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
		h2, p2, err := Endpoint(Settings{InferenceBaseURL: again})
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("Endpoint(%q) = %q, %d, %v; from %q", again, h2, p2, err, raw)
		}
	})
}
