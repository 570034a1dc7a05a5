package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errLoading is a probe answer that means "alive, still loading": llama-server
// binds its port before it loads the model and answers 503 meanwhile.
var errLoading = errors.New("503 Loading model")

// maxHealthBody bounds how much of a health answer is read: a hostile or
// broken endpoint cannot make a probe use memory.
const maxHealthBody = 4 << 10

// maxHealthHeader bounds the answer's header block in the same way (the
// transport's default allows 10 MB). llama-server sends a few hundred bytes.
const maxHealthHeader = 64 << 10

// httpProber probes llama-server's /health. It never follows a redirect
// (the probe must not leave the configured host), never uses a proxy, and
// reads at most maxHealthHeader bytes of header and maxHealthBody of body.
type httpProber struct {
	client *http.Client
}

func newHTTPProber() *httpProber {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		// A hostile endpoint streaming header lines would otherwise cost
		// each probe 10 MB.
		MaxResponseHeaderBytes: maxHealthHeader,
	}
	return &httpProber{client: &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// probe returns nil for 200, errLoading for 503, and an error naming what
// went wrong otherwise. ctx bounds the whole exchange, body included.
func (p *httpProber) probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return probeErr(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if err != nil {
		return fmt.Errorf("health answer %d, body unreadable: %w", resp.StatusCode, probeErr(err))
	}
	// Drain a little more so the connection can be reused, never unbounded.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthBody))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		return errLoading
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("health answer %d redirect to %q (not followed)", resp.StatusCode, resp.Header.Get("Location"))
	default:
		return fmt.Errorf("health answer %d: %s", resp.StatusCode, snippet(body))
	}
}

func (p *httpProber) close() { p.client.CloseIdleConnections() }

func probeErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("health check timed out")
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return fmt.Errorf("health check: connection refused or unreachable: %w", oe.Err)
	}
	return fmt.Errorf("health check: %w", err)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strconv.Quote(s)
}

// portAnswers reports whether something accepts connections on host:port.
// It connects rather than binds: right after a server exits its port sits in
// TIME-WAIT and a bind check would wrongly say "in use", while a second
// llama-server would bind anyway through SO_REUSEPORT and silently share it.
func portAnswers(ctx context.Context, host string, port int) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// healthURL is where llama-server answers its health check.
func healthURL(host string, port int) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/health"
}
