package fakellama

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// serverState is what the HTTP handlers read; the main goroutine writes it.
type serverState struct {
	ready     atomic.Bool             // model loaded: /health answers 200
	hung      atomic.Bool             // FAKE_LLAMA_HANG_AFTER fired
	unhealthy atomic.Bool             // FAKE_LLAMA_UNHEALTHY_AFTER fired
	sleep     atomic.Pointer[sleeper] // --sleep-idle-seconds, once loaded
}

type handler struct {
	opts            options
	st              *serverState
	unhealthyStatus int
	created         int64
	slots           *slots
}

// The real server's error bodies, byte for byte.
const (
	bodyLoading  = `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`
	bodyBadKey   = `{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}`
	bodyNotFound = `{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}`
	bodyHealthy  = `{"status":"ok"}`
	bodyNoSlots  = "{\"error\":{\"code\":501,\"message\":\"This server does not support slots endpoint. Start it with `--slots`\",\"type\":\"not_supported_error\"}}"
	bodyNoMetric = "{\"error\":{\"code\":501,\"message\":\"This server does not support metrics endpoint. Start it with `--metrics`\",\"type\":\"not_supported_error\"}}"
)

// publicPaths need no API key (llama.cpp server.cpp: public_endpoints).
var publicPaths = map[string]bool{"/health": true, "/v1/health": true, "/models": true, "/v1/models": true}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.st.hung.Load() {
		// Accept the request and never answer. Returning once the client has
		// gone writes nothing anyone reads.
		<-r.Context().Done()
		return
	}
	if !h.st.ready.Load() {
		// Before the model is loaded every path gets 503, key or no key.
		writeJSON(w, http.StatusServiceUnavailable, bodyLoading)
		return
	}
	path := r.URL.Path
	if h.opts.apiKey != "" && !publicPaths[path] {
		if r.Header.Get("Authorization") != "Bearer "+h.opts.apiKey {
			writeJSON(w, http.StatusUnauthorized, bodyBadKey)
			return
		}
	}
	switch path {
	case "/":
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><html><head><title>llama.cpp - chat</title></head><body>fake-llama-server</body></html>\n"))
	case "/health", "/v1/health":
		if h.st.unhealthy.Load() {
			typ := "server_error"
			if h.unhealthyStatus == http.StatusServiceUnavailable {
				typ = "unavailable_error"
			}
			writeValue(w, h.unhealthyStatus, map[string]any{"error": map[string]any{
				"code": h.unhealthyStatus, "message": "fake-llama-server: unhealthy (" + EnvUnhealthyAfter + ")", "type": typ,
			}})
			return
		}
		writeJSON(w, http.StatusOK, bodyHealthy)
	case "/models", "/v1/models":
		writeValue(w, http.StatusOK, map[string]any{
			"object": "list",
			"data": []any{map[string]any{
				"id": h.modelID(), "object": "model", "created": h.created, "owned_by": "llamacpp",
				"meta": map[string]any{"n_ctx_train": 4096, "n_vocab": 32000},
			}},
		})
	case "/props":
		writeValue(w, http.StatusOK, map[string]any{
			"default_generation_settings": map[string]any{"n_ctx": h.opts.ctx},
			"total_slots":                 len(h.slots.busy),
			"model_path":                  h.opts.model,
			"is_sleeping":                 h.st.sleep.Load().isSleeping(),
			"endpoint_slots":              !h.opts.noSlots,
			"endpoint_metrics":            h.opts.metrics,
		})
	case "/slots":
		if h.opts.noSlots {
			writeJSON(w, http.StatusNotImplemented, bodyNoSlots)
			return
		}
		writeValue(w, http.StatusOK, h.slots.list(h.opts.ctx))
	case "/metrics":
		if !h.opts.metrics {
			writeJSON(w, http.StatusNotImplemented, bodyNoMetric)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Header().Set("Server", "llama.cpp")
		_, _ = w.Write([]byte(h.slots.metrics()))
	case "/completion", "/completions", "/v1/completions":
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		h.st.sleep.Load().touch()
		if !h.generate(r) {
			return // the client went away
		}
		if strings.HasPrefix(path, "/v1/") {
			writeValue(w, http.StatusOK, map[string]any{
				"id": "cmpl-fake", "object": "text_completion", "created": time.Now().Unix(), "model": h.modelID(),
				"choices": []any{map[string]any{"index": 0, "text": " fake", "finish_reason": "stop"}},
			})
			return
		}
		writeValue(w, http.StatusOK, map[string]any{"content": " fake", "stop": true, "model": h.modelID()})
	case "/chat/completions", "/v1/chat/completions":
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		h.st.sleep.Load().touch()
		if !h.generate(r) {
			return
		}
		writeValue(w, http.StatusOK, map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": time.Now().Unix(), "model": h.modelID(),
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": "fake"},
			}},
		})
	default:
		writeJSON(w, http.StatusNotFound, bodyNotFound)
	}
}

// generate reads the request (only then does the HTTP server notice a
// client that goes away) and keeps a slot processing for it.
func (h *handler) generate(r *http.Request) bool {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	return h.slots.run(r.Context())
}

func (h *handler) modelID() string {
	if h.opts.alias != "" {
		return h.opts.alias
	}
	return h.opts.model
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Server", "llama.cpp")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func writeValue(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":{"code":500,"message":"marshal","type":"server_error"}}`)
	}
	writeJSON(w, code, string(b))
}
