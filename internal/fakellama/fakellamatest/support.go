package fakellamatest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// HoldCompletion keeps one of the fake server's slots processing (a
// completion request on port, with FAKE_LLAMA_GENERATE long enough) until
// the returned release is called; the server frees the slot when its
// client goes away. Cleanup releases it too.
func HoldCompletion(t testing.TB, port int) (release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/completion", port), strings.NewReader(`{"prompt":"hi"}`))
		if err != nil {
			return
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	var once sync.Once
	release = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(release)
	return release
}
