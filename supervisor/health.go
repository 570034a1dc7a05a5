package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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

// httpProber probes llama-server's /health. It speaks just enough HTTP/1.1
// itself, on the probing goroutine alone: a fresh connection per probe
// ("Connection: close"), the request written by hand and the answer parsed
// by net/http's ReadResponse. net/http's client would pass every probe
// through three goroutines (the caller and the connection's reader and
// writer); on an idle machine each hand-off wakes a thread, and those
// wake-ups were most of an idle agent's CPU. A fresh connection also never
// races llama-server's 5 s keep-alive timeout.
//
// It never follows a redirect (the probe must not leave the configured
// host), never uses a proxy (it dials the host itself), and reads at most
// maxHealthHeader bytes of header and maxHealthBody of body.
type httpProber struct {
	dialer net.Dialer
}

func newHTTPProber() *httpProber { return &httpProber{} }

// errProbeTimeout is a probe that did not finish within its bound.
var errProbeTimeout = errors.New("health check timed out")

// probe returns nil for 200, errLoading for 503, and an error naming what
// went wrong otherwise. ctx bounds the whole exchange, body included.
func (p *httpProber) probe(ctx context.Context, rawURL string) error {
	_, err := p.check(ctx, rawURL, liveQuery{})
	return err
}

// check is one health check and, when q asks and /health answered 200, the
// live view's reads on the same connection (a second request on an open
// connection costs a fraction of a new one). The error is the health
// check's verdict alone: a live read that fails leaves its part of the
// answer unknown. ctx bounds the whole exchange.
func (p *httpProber) check(ctx context.Context, rawURL string, q liveQuery) (liveAnswer, error) {
	var a liveAnswer
	u, err := url.Parse(rawURL)
	if err != nil {
		return a, err
	}
	conn, err := p.dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return a, failed(ctx, err)
	}
	defer conn.Close()
	// ctx ends the exchange however it ends: its deadline up front, its
	// cancellation (shutdown) by cutting the connection's deadline short.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c := &httpConn{conn: conn, br: bufio.NewReader(conn), host: u.Host}
	more := q.wants()
	code, hdr, body, err := c.get(u.RequestURI(), "", !more, maxHealthBody)
	if err != nil {
		if errors.Is(err, errHeaderTooBig) {
			return a, fmt.Errorf("health check: server response headers exceeded %d bytes", maxHealthHeader)
		}
		if errors.Is(err, errBodyUnreadable) {
			return a, fmt.Errorf("health answer %d, body unreadable: %w", code, failed(ctx, errors.Unwrap(err)))
		}
		return a, failed(ctx, err)
	}
	switch {
	case code == http.StatusOK:
	case code == http.StatusServiceUnavailable:
		return a, errLoading
	case code >= 300 && code < 400:
		return a, fmt.Errorf("health answer %d redirect to %q (not followed)", code, hdr.Get("Location"))
	default:
		return a, fmt.Errorf("health answer %d: %s", code, snippet(body))
	}
	if more {
		a = readLive(c, q)
	}
	if q.mem != nil {
		a.rss = q.mem.read()
	}
	return a, nil
}

var (
	errHeaderTooBig   = errors.New("response headers too big")
	errBodyUnreadable = errors.New("body unreadable")
)

// httpConn is one connection to the server, for a health check and the
// reads that follow it.
type httpConn struct {
	conn net.Conn
	br   *bufio.Reader
	host string
}

// get sends GET path and reads the answer: at most maxHealthHeader bytes of
// header and maxBody of body (a longer body is cut, and then the
// connection is no longer usable: last must be set). auth is the
// Authorization header's value, if any. With last, the request asks the
// server to close the connection afterwards.
func (c *httpConn) get(path, auth string, last bool, maxBody int64) (code int, hdr http.Header, body []byte, err error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + c.host + "\r\nUser-Agent: ocm-tray\r\nAccept: */*\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if last {
		req += "Connection: close\r\n"
	}
	if _, err := io.WriteString(c.conn, req+"\r\n"); err != nil {
		return 0, nil, nil, err
	}
	limit := &io.LimitedReader{R: c.br, N: maxHealthHeader}
	resp, err := http.ReadResponse(bufio.NewReader(limit), nil)
	if err != nil {
		if limit.N <= 0 {
			return 0, nil, nil, errHeaderTooBig
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	limit.N += maxBody
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil && !(limit.N <= 0 && resp.StatusCode == http.StatusOK) {
		return resp.StatusCode, resp.Header, body, fmt.Errorf("%w: %w", errBodyUnreadable, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// failed names a transport error for last_error: a timeout (ctx's deadline,
// or shutdown cutting the connection) reads "health check timed out".
func failed(ctx context.Context, err error) error {
	// A read cut by the deadline can surface as a parse error of what had
	// arrived ("malformed HTTP response"): the clock decides, not the error.
	d, hasDeadline := ctx.Deadline()
	expired := hasDeadline && !time.Now().Before(d)
	if expired || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return errProbeTimeout
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
