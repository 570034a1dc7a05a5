package settings

import (
	"strings"
	"testing"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url  string
		host string
		port int
		err  string // substring; "" = no error
	}{
		{"", "127.0.0.1", 8080, ""}, // the default
		{"http://127.0.0.1:8080", "127.0.0.1", 8080, ""},
		{"http://localhost:9000/v1", "localhost", 9000, ""},
		{"http://localhost:9000/v1/chat?x=1#f", "localhost", 9000, ""},
		{"http://[::1]:8081", "::1", 8081, ""},
		{"http://[::]:8081/", "::", 8081, ""},
		{"http://0.0.0.0:1", "0.0.0.0", 1, ""},
		{"http://my-box.lan:65535", "my-box.lan", 65535, ""},
		{"http://[fe80::1%25eth0]:8080", "fe80::1%eth0", 8080, ""},
		{"HTTP://127.0.0.1:8080", "127.0.0.1", 8080, ""},
		{"http://127.0.0.1", "", 0, "has no port"},
		{"http://127.0.0.1:", "", 0, "has no port"},
		{"http://[::1]", "", 0, "has no port"},
		{"http://127.0.0.1:0", "", 0, "out of range"},
		{"http://127.0.0.1:65536", "", 0, "out of range"},
		{"http://127.0.0.1:70000", "", 0, "out of range"},
		{"http://127.0.0.1:99999999999999999999", "", 0, "out of range"},
		{"http://127.0.0.1:-1", "", 0, "not a URL"},
		{"http://127.0.0.1:80a", "", 0, "not a URL"},
		{"https://127.0.0.1:8443", "", 0, "plain http"},
		{"ftp://127.0.0.1:21", "", 0, "plain http"},
		{"localhost:8080", "", 0, "not a URL"},
		{"127.0.0.1:8080", "", 0, "not a URL"},
		{"/v1", "", 0, "not a URL"},
		{"http://:8080", "", 0, "no valid host"},
		{"http://user:pw@127.0.0.1:8080", "", 0, "user name or password"},
		{"http://bad_host!:8080", "", 0, "no valid host"},
		{"http://a..b:8080", "", 0, "no valid host"},
		{"http://*:8080", "", 0, "no valid host"},
		{"http://127.0.0.1:8080\n", "", 0, "control character"},
		{"http://[::1:8080", "", 0, "not a URL"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			host, port, err := Endpoint(Settings{InferenceBaseURL: tc.url})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Endpoint(%q) = %q, %d, %v; want error ~%q", tc.url, host, port, err, tc.err)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Fatalf("Endpoint(%q) = %q, %d, %v; want %q, %d", tc.url, host, port, err, tc.host, tc.port)
			}
		})
	}
}

func TestProbeHost(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0":   "127.0.0.1",
		"::":        "::1",
		"":          "127.0.0.1",
		"127.0.0.1": "127.0.0.1",
		"::1":       "::1",
		"localhost": "localhost",
		"10.0.0.5":  "10.0.0.5",
	} {
		if got := ProbeHost(in); got != want {
			t.Errorf("ProbeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":        true,
		"LOCALHOST":        true,
		"localhost.":       true,
		"app.localhost":    true,
		"127.0.0.1":        true,
		"127.1.2.3":        true,
		"::1":              true,
		"[::1]":            true,
		"::ffff:127.0.0.1": true,
		"0.0.0.0":          false,
		"::":               false,
		"192.168.1.2":      false,
		"example.com":      false,
		"localhost.evil":   false,
		"":                 false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
