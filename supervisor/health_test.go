package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/internal/testenv"
)

// The health endpoint is whatever answers on the configured port: these tests
// point the real httpProber at hostile and broken servers (testenv.Serve
// for those below HTTP, httptest for the rest). Every probe must end
// within its context's deadline, read a bounded amount, and never leave the
// configured host.

// probeBound is how long past its context deadline a probe may take to
// return before it counts as hung: scheduling on a loaded machine takes
// seconds at worst, a hang takes forever.
const probeBound = testenv.WaitLimit

// probeWithin probes url with a context that expires after d, and fails the
// test if the probe outlives it by more than probeBound.
func probeWithin(t *testing.T, url string, d time.Duration) (time.Duration, error) {
	t.Helper()
	p := newHTTPProber()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	start := time.Now()
	err := p.probe(ctx, url)
	took := time.Since(start)
	if took > d+probeBound {
		t.Fatalf("probe took %v with a %v deadline", took, d)
	}
	return took, err
}

// probeAnswer probes a server that answers: the deadline only bounds a
// hang, however slowly a loaded machine gets the answer through.
func probeAnswer(t *testing.T, url string) error {
	t.Helper()
	_, err := probeWithin(t, url, testenv.WaitLimit)
	return err
}

func TestProbeServerThatNeverAnswers(t *testing.T) {
	srv := testenv.Serve(t, "127.0.0.1:0", testenv.NeverAnswer)
	took, err := probeWithin(t, "http://"+srv.Addr+"/health", 200*time.Millisecond)
	if err == nil || err.Error() != "health check timed out" {
		t.Fatalf("probe = %v, want \"health check timed out\"", err)
	}
	if took < 200*time.Millisecond {
		t.Fatalf("gave up after %v, before its deadline", took)
	}
}

// A server that sends its status line one byte every 100ms: the header read
// is bounded by the context too, not only the connect.
func TestProbeHeaderDrip(t *testing.T) {
	srv := testenv.Serve(t, "127.0.0.1:0", func(c net.Conn) {
		c.Read(make([]byte, 4096)) // the request: an answer before it is "unsolicited"
		for _, b := range []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return // the prober hung up
			}
			time.Sleep(100 * time.Millisecond) // the drip is the hostile server's behaviour
		}
	})
	_, err := probeWithin(t, "http://"+srv.Addr+"/health", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("probe = %v, want a timeout", err)
	}
}

// A 200 whose body arrives one byte every 100ms: ctx bounds the body read as
// well, so the answer counts as a failed probe, not a hung one.
func TestProbeBodyDrip(t *testing.T) {
	handlerDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for range 1000 {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			fl.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}))
	defer srv.Close()
	// The deadline falls in the body: the header comes at once (even a
	// loaded machine gets it through in far less), the body takes 100 s.
	_, err := probeWithin(t, srv.URL+"/health", 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "health answer 200, body unreadable") || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("probe = %v, want an unreadable-body timeout", err)
	}
	testenv.Recv(t, handlerDone, "the dripping handler to see the prober hang up")
}

// A 200 that streams 1 GiB: the probe reads at most maxHealthBody (and as
// much again to drain), hangs up, and returns at once. The server manages to
// write little more than what the socket buffers hold.
func TestProbeHugeBodyIsBounded(t *testing.T) {
	const huge = 1 << 30
	var served atomic.Int64
	handlerDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Content-Length", strconv.Itoa(huge))
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 64<<10)
		for served.Load() < huge {
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	var err error
	alloc := testenv.Allocated(func() { err = probeAnswer(t, srv.URL+"/health") })
	if err != nil {
		t.Fatalf("probe = %v; a 200 is healthy whatever its body", err)
	}
	testenv.Recv(t, handlerDone, "the streaming handler to see the prober hang up")
	t.Logf("server wrote %d bytes of 1 GiB before the prober hung up; %d bytes allocated meanwhile", served.Load(), alloc)
	if served.Load() > 64<<20 {
		t.Fatalf("server wrote %d bytes: the prober kept reading", served.Load())
	}
	if alloc > 4<<20 {
		t.Fatalf("%d bytes allocated during one probe", alloc)
	}
}

// A server that sends header lines forever: the probe gives up after
// maxHealthHeader bytes (the transport's default would take 10 MB).
func TestProbeEndlessHeadersAreBounded(t *testing.T) {
	var served atomic.Int64
	srv := testenv.Serve(t, "127.0.0.1:0", func(c net.Conn) {
		c.Read(make([]byte, 4096)) // the request
		line := []byte("X-Junk: " + strings.Repeat("j", 1000) + "\r\n")
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\n"); err != nil {
			return
		}
		for served.Load() < 1<<30 {
			n, err := c.Write(line)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	var err error
	alloc := testenv.Allocated(func() { err = probeAnswer(t, "http://"+srv.Addr+"/health") })
	if err == nil || !strings.Contains(err.Error(), "server response headers exceeded") {
		t.Fatalf("probe = %v, want the header limit", err)
	}
	srv.Close()
	t.Logf("probe = %v; server wrote %d header bytes; %d bytes allocated", err, served.Load(), alloc)
	if served.Load() > 64<<20 {
		t.Fatalf("server wrote %d header bytes", served.Load())
	}
	if alloc > 4<<20 {
		t.Fatalf("%d bytes allocated during one probe", alloc)
	}
}

// answering is a test server that answers /health with status and body.
func answering(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Any 200 is healthy, whatever its body. llama-server variants differ in what
// they put there ({"status":"ok"}, {"status":"no slot available"} with older
// builds, plain text behind some proxies), and the port check before the
// spawn already rules out a foreign server holding the port: whoever answers
// on it is our child. Parsing the body would only add ways to call a working
// server broken.
func TestProbeAny200IsHealthy(t *testing.T) {
	for _, body := range []string{
		`{"status":"ok"}`,
		"",
		"\x00\xff\xfe garbage \x1b[31m",
		`{"status":"error"`,
		strings.Repeat("z", maxHealthBody*3),
	} {
		srv := answering(t, http.StatusOK, body)
		if err := probeAnswer(t, srv.URL+"/health"); err != nil {
			t.Errorf("200 with body %.20q: %v", body, err)
		}
	}
}

func TestProbeLoadingIs503(t *testing.T) {
	srv := answering(t, http.StatusServiceUnavailable, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`)
	if err := probeAnswer(t, srv.URL+"/health"); !errors.Is(err, errLoading) {
		t.Fatalf("probe = %v, want errLoading", err)
	}
}

func TestProbeOtherStatusNamesIt(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{500, `{"status":"error"}`, `health answer 500: "{\"status\":\"error\"}"`},
		{404, "not found\n", `health answer 404: "not found"`},
		{401, "", `health answer 401: ""`},
	} {
		srv := answering(t, tc.status, tc.body)
		err := probeAnswer(t, srv.URL+"/health")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%d: probe = %v, want %q", tc.status, err, tc.want)
		}
	}
}

// A long error body is cut to a snippet, so last_error stays readable.
func TestProbeErrorBodySnippet(t *testing.T) {
	srv := answering(t, 500, strings.Repeat("e", 10_000))
	err := probeAnswer(t, srv.URL+"/health")
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "…") {
		t.Fatalf("probe = %v (%d bytes)", err, len(fmt.Sprint(err)))
	}
}

// A 200 cut short (fewer bytes than Content-Length, then the connection
// closes) is a failed probe, not a healthy one.
func TestProbeTruncatedBody(t *testing.T) {
	srv := testenv.Serve(t, "127.0.0.1:0", func(c net.Conn) {
		// Read the request first, so closing does not reset the connection
		// before the answer is out.
		c.Read(make([]byte, 4096))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"status\":")
	})
	err := probeAnswer(t, "http://"+srv.Addr+"/health")
	if err == nil || !strings.Contains(err.Error(), "body unreadable") {
		t.Fatalf("probe = %v, want body unreadable", err)
	}
}

// A redirect is never followed: the probe must not leave the configured
// host, whatever answers on its port.
func TestProbeRedirectIsNotFollowed(t *testing.T) {
	var elsewhereHits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereHits.Add(1)
	}))
	defer elsewhere.Close()
	target := elsewhere.URL + "/health"
	for _, code := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, code)
		}))
		err := probeAnswer(t, srv.URL+"/health")
		srv.Close()
		want := fmt.Sprintf("health answer %d redirect to %q (not followed)", code, target)
		if err == nil || err.Error() != want {
			t.Errorf("%d: probe = %v, want %q", code, err, want)
		}
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	err := probeAnswer(t, "http://"+addr+"/health")
	if err == nil || !strings.Contains(err.Error(), "health check: connection refused or unreachable") {
		t.Fatalf("probe = %v", err)
	}
}

// HTTP_PROXY must not divert probes. The prober dials the host itself (no
// http.Transport, so no environment proxy); the probes below check the
// effect, including for a host name that is not loopback-looking.
func TestProbeIgnoresProxyEnvironment(t *testing.T) {
	var proxyHits atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxyHits.Add(1)
		w.WriteHeader(http.StatusOK) // a proxy that says "healthy" to anything
	}))
	defer proxy.Close()
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	// The recorder works: a client told to use it does reach it.
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := viaProxy.Get("http://ocm-proxy-check.invalid/health")
	if err != nil {
		t.Fatalf("control request through the proxy: %v", err)
	}
	resp.Body.Close()
	viaProxy.CloseIdleConnections()
	if proxyHits.Load() != 1 {
		t.Fatalf("control: proxy got %d hits, want 1", proxyHits.Load())
	}
	proxyHits.Store(0)

	// Loopback: answered by the server itself.
	srv := answering(t, http.StatusServiceUnavailable, "Loading model")
	if err := probeAnswer(t, srv.URL+"/health"); !errors.Is(err, errLoading) {
		t.Fatalf("loopback probe = %v, want errLoading from the server itself", err)
	}
	// A name that never resolves (RFC 6761 .invalid): through the proxy it
	// would be "healthy"; without one it fails to connect.
	if _, err := probeWithin(t, "http://ocm-proxy-check.invalid:8080/health", 3*time.Second); err == nil {
		t.Fatal("probe of an unresolvable host succeeded: it went through the proxy")
	}
	if n := proxyHits.Load(); n != 0 {
		t.Fatalf("the proxy got %d probe requests", n)
	}
}

func TestPortAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// No Accept: the kernel completes the handshake from the backlog, as it
	// does for a server too busy to accept.
	if !portAnswers(t.Context(), "127.0.0.1", port) {
		t.Fatal("portAnswers = false with a listener on the port")
	}
	l.Close()
	if portAnswers(t.Context(), "127.0.0.1", port) {
		t.Fatal("portAnswers = true on a closed port")
	}
}
