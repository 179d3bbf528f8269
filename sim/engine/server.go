package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

type servedBy struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	KvRank   int    `json:"kv_rank"`
	EngineID string `json:"engine_id"`
	DpRank   int    `json:"dp_rank"`
}

var requestCount atomic.Int64

func (e *engine) self() servedBy {
	host := e.hostIP
	if host == "" {
		if ips := ownIPv4s(); len(ips) > 0 {
			host = ips[0]
		}
	}
	return servedBy{Host: host, Port: e.port, KvRank: e.kvRank, EngineID: e.engineID, DpRank: e.dpRank}
}

func (e *engine) serve() int {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"version": simVllmVersion})
	})
	mux.HandleFunc("/v1/models", e.handleModels)
	mux.HandleFunc("/metrics", e.handleMetrics)
	mux.HandleFunc("/v1/completions", func(w http.ResponseWriter, r *http.Request) { e.handleGenerate(w, r, false) })
	mux.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { e.handleGenerate(w, r, true) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, map[string]any{"detail": "Not Found"})
	})
	srv := &http.Server{Handler: accessLog(mux), ReadHeaderTimeout: 30 * time.Second}
	fmt.Printf("INFO:     Started server process [%d]\n", os.Getpid())
	fmt.Println("INFO:     Waiting for application startup.")
	fmt.Println("INFO:     Application startup complete.")
	fmt.Printf("INFO:     Uvicorn running on http://%s:%d (Press CTRL+C to quit)\n", orAll(e.args.Str["host"]), e.port)
	if err := srv.Serve(e.listener); err != nil {
		logAt("ERROR", "api_server.py:1100", "server stopped: %v", err)
		return 1
	}
	return 0
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func accessLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		h.ServeHTTP(rec, r)
		fmt.Printf("INFO:     %s - \"%s %s HTTP/%d.%d\" %d %s\n", r.RemoteAddr, r.Method, r.URL.Path, r.ProtoMajor, r.ProtoMinor, rec.status, http.StatusText(rec.status))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": status})
}

func (e *engine) handleModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"object": "list", "data": []any{map[string]any{
		"id": e.served, "object": "model", "created": time.Now().Unix(), "owned_by": "vllm",
		"root": e.model, "parent": nil, "max_model_len": e.maxModelLen,
	}}})
}

// kvParams is what a prefill hands back and the proxy forwards to a decode: the fields vLLM's
// remote-prefill connectors use (remote_engine_id, remote_host, remote_port, remote_block_ids)
// plus this prefill's kv_rank and the cluster id that ties it to one global ranktable.
type kvParams struct {
	DoRemoteDecode  bool   `json:"do_remote_decode"`
	DoRemotePrefill bool   `json:"do_remote_prefill"`
	RemoteEngineID  string `json:"remote_engine_id"`
	RemoteKvRank    int    `json:"remote_kv_rank"`
	RemoteHost      string `json:"remote_host"`
	RemotePort      int    `json:"remote_port"`
	RemoteBlockIDs  []int  `json:"remote_block_ids"`
	RemoteRequestID string `json:"remote_request_id"`
	RemoteClusterID string `json:"remote_cluster_id"`
}

func (e *engine) handleGenerate(w http.ResponseWriter, r *http.Request, chat bool) {
	if r.Method != http.MethodPost {
		writeJSON(w, 405, map[string]any{"detail": "Method Not Allowed"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, 400, "BadRequestError", "cannot read the request body")
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, 400, "BadRequestError", "JSON decode error: "+err.Error())
		return
	}
	var model string
	_ = json.Unmarshal(req["model"], &model)
	if model != e.served {
		apiError(w, 404, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", model))
		return
	}
	maxTokens := 16
	if raw, ok := req["max_tokens"]; ok {
		_ = json.Unmarshal(raw, &maxTokens)
	} else if raw, ok := req["max_completion_tokens"]; ok {
		_ = json.Unmarshal(raw, &maxTokens)
	}
	if maxTokens < 1 {
		apiError(w, 400, "BadRequestError", "max_tokens must be at least 1")
		return
	}
	var stream bool
	_ = json.Unmarshal(req["stream"], &stream)
	var streamOpts struct {
		IncludeUsage bool `json:"include_usage"`
	}
	_ = json.Unmarshal(req["stream_options"], &streamOpts)
	prompt := promptText(req, chat)
	if chat && prompt == "" {
		apiError(w, 400, "BadRequestError", "messages must be a non-empty list")
		return
	}
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" {
		reqID = fmt.Sprintf("%x", time.Now().UnixNano())
	}

	e.knobs.reload()
	omni := map[string]any{"role": e.role, "request_id": reqID, "cluster_id": e.clusterID}
	var summary string
	var kvOut *kvParams
	me := e.self()
	switch e.role {
	case "prefill":
		kvOut = &kvParams{DoRemotePrefill: true, RemoteEngineID: e.engineID, RemoteKvRank: e.kvRank,
			RemoteHost: me.Host, RemotePort: e.port, RemoteBlockIDs: []int{0, 1, 2, 3},
			RemoteRequestID: reqID, RemoteClusterID: e.clusterID}
		omni["prefill"], omni["decode"] = me, nil
		summary = fmt.Sprintf("[prefill %s:%d kv_rank %d]", me.Host, e.port, e.kvRank)
	case "decode":
		p, msg := e.checkKvParams(req["kv_transfer_params"])
		if msg != "" {
			apiError(w, 400, "BadRequestError", msg)
			return
		}
		omni["prefill"], omni["decode"] = p, me
		summary = fmt.Sprintf("[prefill %s:%d kv_rank %d -> decode %s:%d dp_rank %d]", p.Host, p.Port, p.KvRank, me.Host, e.port, e.dpRank)
	default:
		omni["prefill"], omni["decode"] = nil, nil
		summary = fmt.Sprintf("[standalone %s:%d]", me.Host, e.port)
	}
	promptTokens := countTokens(prompt)
	if promptTokens+maxTokens > e.maxModelLen {
		apiError(w, 400, "BadRequestError", fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.", e.maxModelLen, promptTokens+maxTokens, promptTokens, maxTokens))
		return
	}
	arrival := time.Now()
	if ms := e.knobs.float("SIM_ENGINE_SLOW_MS", 0); ms > 0 {
		time.Sleep(time.Duration(ms * float64(time.Millisecond)))
	}
	// The request runs through the performance model (core.go): prefill, KV pull, decode steps.
	sr := newRequest(reqID, promptTokens, maxTokens, e.role == "decode", arrival)
	if msg := e.core.submit(sr); msg != "" {
		apiError(w, 400, "BadRequestError", msg)
		return
	}
	ctx := r.Context()
	// wait blocks until the request has more than `seen` tokens or ended; false: it will not
	// produce them (the client went away, or the engine refused it).
	wait := func(seen int) (int, bool) {
		for {
			n, finished, refused := e.core.progress(sr)
			if refused != "" {
				return n, false
			}
			if n > seen || finished {
				return n, n > seen || finished && n >= maxTokens
			}
			select {
			case <-sr.notify:
			case <-ctx.Done():
				e.core.abort(sr)
				return n, false
			}
		}
	}
	tokens := make([]string, maxTokens)
	tokens[0] = " " + summary
	for i := 1; i < maxTokens; i++ {
		tokens[i] = " tok" + strconv.Itoa(i)
	}
	usage := map[string]any{"prompt_tokens": promptTokens, "completion_tokens": maxTokens, "total_tokens": promptTokens + maxTokens}
	created := time.Now().Unix()
	object, id := "text_completion", "cmpl-"+reqID
	if chat {
		object, id = "chat.completion", "chatcmpl-"+reqID
	}
	if !stream {
		for n := 0; n < maxTokens; {
			var ok bool
			if n, ok = wait(n); !ok {
				e.answerFailed(w, sr, false)
				return
			}
		}
		defer e.countRequest()
		choice := map[string]any{"index": 0, "logprobs": nil, "finish_reason": "length", "stop_reason": nil}
		if chat {
			choice["message"] = map[string]any{"role": "assistant", "content": strings.Join(tokens, ""), "tool_calls": []any{}}
		} else {
			choice["text"] = strings.Join(tokens, "")
		}
		resp := map[string]any{"id": id, "object": object, "created": created, "model": e.served,
			"choices": []any{choice}, "usage": usage, "omni_sim": omni}
		if kvOut != nil {
			resp["kv_transfer_params"] = kvOut
		}
		writeJSON(w, 200, resp)
		return
	}
	// Streamed: one chunk per token, each sent when the engine step that made it ends. The
	// status line goes out first, as vLLM's StreamingResponse sends it before the first chunk.
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	if chat {
		object = "chat.completion.chunk"
	}
	for sent := 0; sent < maxTokens; {
		n, ok := wait(sent)
		if !ok {
			e.answerFailed(w, sr, true)
			return
		}
		for ; sent < n && sent < maxTokens; sent++ {
			var finish any
			if sent == maxTokens-1 {
				finish = "length"
			}
			choice := map[string]any{"index": 0, "logprobs": nil, "finish_reason": finish}
			if chat {
				delta := map[string]any{"content": tokens[sent]}
				if sent == 0 {
					delta["role"] = "assistant"
				}
				choice["delta"] = delta
			} else {
				choice["text"] = tokens[sent]
			}
			chunk := map[string]any{"id": id, "object": object, "created": created, "model": e.served,
				"choices": []any{choice}, "omni_sim": omni}
			if kvOut != nil && sent == maxTokens-1 {
				chunk["kv_transfer_params"] = kvOut
			}
			send(chunk)
		}
	}
	defer e.countRequest()
	if streamOpts.IncludeUsage {
		send(map[string]any{"id": id, "object": object, "created": created, "model": e.served, "choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// answerFailed ends a request the engine will not finish: refused (its KV need exceeds the
// cache) or abandoned by its client (nothing to answer).
func (e *engine) answerFailed(w http.ResponseWriter, sr *simRequest, streaming bool) {
	_, _, refused := e.core.progress(sr)
	if refused == "" {
		return
	}
	if !streaming {
		apiError(w, 400, "BadRequestError", refused)
		return
	}
	b, _ := json.Marshal(map[string]any{"object": "error", "message": refused, "type": "BadRequestError", "param": nil, "code": 400})
	fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
}

// handleMetrics is vLLM's GET /metrics: its V1 metrics in Prometheus' text format (metrics.go).
func (e *engine) handleMetrics(w http.ResponseWriter, r *http.Request) {
	running, waiting, usage := e.core.load()
	var b strings.Builder
	e.core.mu.Lock()
	e.core.metrics.write(&b, running, waiting, usage)
	e.core.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

// countRequest implements "die after N requests": the Nth answer is delivered, then the
// engine dies the way a crashed engine core takes its API server down.
func (e *engine) countRequest() {
	n := requestCount.Add(1)
	if limit := e.knobs.int("SIM_ENGINE_DIE_AFTER", 0); limit > 0 && n >= int64(limit) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			logAt("ERROR", "core.py:402", "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue (SIM_ENGINE_DIE_AFTER=%d reached)", limit)
			os.Exit(1)
		}()
	}
}

func (e *engine) checkKvParams(raw json.RawMessage) (servedBy, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return servedBy{}, "this is a decode instance (kv_consumer): the request needs kv_transfer_params from a prefill; send it through the global proxy"
	}
	var p kvParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return servedBy{}, "kv_transfer_params is malformed: " + err.Error()
	}
	if p.RemoteClusterID != e.clusterID {
		return servedBy{}, fmt.Sprintf("kv_transfer_params come from a prefill of another cluster (cluster %q, this decode belongs to %q)", p.RemoteClusterID, e.clusterID)
	}
	for _, g := range e.global.ServerGroupList {
		gid := groupNumber(g)
		if gid < 0 || gid >= e.prefillPods {
			continue
		}
		for _, s := range g.ServerList {
			if s.ServerIP == p.RemoteHost && gid == p.RemoteKvRank {
				return servedBy{Host: p.RemoteHost, Port: p.RemotePort, KvRank: p.RemoteKvRank, EngineID: p.RemoteEngineID}, ""
			}
		}
	}
	return servedBy{}, fmt.Sprintf("kv_transfer_params name prefill %s (kv_rank %d), which is not a prefill instance of this cluster's global ranktable", p.RemoteHost, p.RemoteKvRank)
}

func promptText(req map[string]json.RawMessage, chat bool) string {
	if chat {
		var msgs []struct {
			Content any `json:"content"`
		}
		_ = json.Unmarshal(req["messages"], &msgs)
		var parts []string
		for _, m := range msgs {
			parts = append(parts, fmt.Sprint(m.Content))
		}
		return strings.Join(parts, " ")
	}
	var s string
	if json.Unmarshal(req["prompt"], &s) == nil {
		return s
	}
	var list []string
	_ = json.Unmarshal(req["prompt"], &list)
	return strings.Join(list, " ")
}
