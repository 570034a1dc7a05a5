package settings

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint returns the host and port llama-server is told to listen on, from
// inference_base_url (DefaultBaseURL when empty). The URL's path, such as
// "/v1", is the chat client's business and is ignored. The port must be
// written out: llama-server needs one, and guessing 80 from "http://" would
// start it somewhere no client looks.
func Endpoint(s Settings) (host string, port int, err error) {
	raw := s.InferenceBaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	if hasControl(raw) {
		return "", 0, fmt.Errorf("%s contains a control character", quote(raw))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "", 0, fmt.Errorf("%s is not a URL like %s", quote(raw), DefaultBaseURL)
	}
	if u.Scheme != "http" {
		// llama-server as ocm-tray runs it speaks plain HTTP, and the health
		// probes use http://: an https URL would never come up healthy.
		return "", 0, fmt.Errorf("%s uses %s: llama-server is run and probed over plain http", quote(raw), quote(u.Scheme+"://"))
	}
	if u.User != nil {
		return "", 0, fmt.Errorf("%s carries a user name or password, which llama-server does not use", quote(raw))
	}
	host = u.Hostname()
	if !validHost(host) {
		return "", 0, fmt.Errorf("%s has no valid host", quote(raw))
	}
	p := u.Port()
	if p == "" {
		return "", 0, fmt.Errorf("%s has no port", quote(raw))
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %s in %s is out of range 1..65535", clip(p, MaxQuoted), quote(raw))
	}
	return host, port, nil
}

// validHost accepts an IP address or a DNS name. url.Parse lets through
// characters (such as '%', '*' or '~') that would reach llama-server's
// --host only to fail there, after the restart budget is spent.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ProbeHost is where health probes and the port check connect for a child
// listening on host: a bind-all address accepts connections on loopback,
// while connecting to 0.0.0.0 or :: is not portable.
func ProbeHost(host string) string {
	switch host {
	case "0.0.0.0", "":
		return "127.0.0.1"
	case "::", "[::]":
		return "::1"
	}
	return host
}

// IsLoopback reports whether host is reachable only from this machine:
// "localhost" or a loopback address. Anything else (bind-all included)
// exposes llama-server, which has no authentication by default, to the
// network.
func IsLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// nonLoopbackWarning is the status warning and the check warning for a host
// other machines can reach.
func nonLoopbackWarning(host string) string {
	return fmt.Sprintf("host %s is not loopback: llama-server is reachable from the network", host)
}
