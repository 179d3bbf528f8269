package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPyFloatIsPrometheusClients(t *testing.T) {
	tenth := 0.1
	if got := pyFloat(tenth + 0.2); got != "0.30000000000000004" {
		t.Errorf("pyFloat(0.1+0.2) = %q", got)
	}
	for v, want := range map[float64]string{
		0: "0.0", 1: "1.0", 3: "3.0", 0.5: "0.5", 0.001: "0.001", 2560: "2560.0",
		1e-05: "1e-05", 123456: "123456.0", 1234567: "1.234567e+06", 1753795326.9356403: "1.7537953269356403e+09",
	} {
		if got := pyFloat(v); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestBuild125Buckets(t *testing.T) {
	got := build125Buckets(16384)
	want := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}
	if len(got) != len(want) {
		t.Fatalf("build_1_2_5_buckets(16384) = %v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("build_1_2_5_buckets(16384) = %v", got)
		}
	}
}

// metricLines parses an exposition into "name{labels}" -> value and checks its shape: every
// sample belongs to a family announced by # HELP and # TYPE.
func metricLines(t *testing.T, text string) (map[string]string, map[string]string) {
	t.Helper()
	samples, types := map[string]string{}, map[string]string{}
	family := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			family = strings.Fields(line)[2]
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if f[2] != family {
				t.Errorf("TYPE %s after HELP %s", f[2], family)
			}
			types[f[2]] = f[3]
		default:
			name, value, ok := strings.Cut(line, " ")
			if !ok || !strings.HasPrefix(name, family) {
				t.Errorf("sample %q outside its family %s", line, family)
			}
			samples[name] = value
		}
	}
	return samples, types
}

func TestMetricsAreVllmsWithExactCounts(t *testing.T) {
	p := testParams()
	v := newVsim(p)
	// three standalone requests in one prefill step (8 prompt tokens each: 20 ms + 24/8000 s),
	// then 3 decode steps of three sequences
	for _, id := range ids(3, "s") {
		v.arrive(0, id, 8, 4, false)
	}
	v.run(time.Hour)
	var b strings.Builder
	running, waiting, usage := v.c.load()
	v.c.metrics.write(&b, running, waiting, usage)
	samples, types := metricLines(t, b.String())

	l := `{engine="0",model_name="deepseek"}`
	for name, typ := range map[string]string{
		"vllm:num_requests_running": "gauge", "vllm:num_requests_waiting": "gauge", "vllm:gpu_cache_usage_perc": "gauge",
		"vllm:prompt_tokens_total": "counter", "vllm:generation_tokens_total": "counter", "vllm:request_success_total": "counter",
		"vllm:num_preemptions_total": "counter", "vllm:gpu_prefix_cache_queries_total": "counter", "vllm:gpu_prefix_cache_hits_total": "counter",
		"vllm:prompt_tokens_created": "gauge", "vllm:time_to_first_token_seconds": "histogram",
		"vllm:time_per_output_token_seconds": "histogram", "vllm:e2e_request_latency_seconds": "histogram",
		"vllm:request_queue_time_seconds": "histogram", "vllm:request_inference_time_seconds": "histogram",
		"vllm:request_prefill_time_seconds": "histogram", "vllm:request_decode_time_seconds": "histogram",
		"vllm:request_prompt_tokens": "histogram", "vllm:request_generation_tokens": "histogram",
		"vllm:iteration_tokens_total": "histogram", "vllm:request_params_n": "histogram",
		"vllm:request_params_max_tokens": "histogram", "vllm:request_max_num_generation_tokens": "histogram",
		"vllm:cache_config_info": "gauge",
	} {
		if types[name] != typ {
			t.Errorf("%s: type %q, want %q", name, types[name], typ)
		}
	}
	for key, want := range map[string]string{
		"vllm:num_requests_running" + l:    "0.0",
		"vllm:prompt_tokens_total" + l:     "24.0",
		"vllm:generation_tokens_total" + l: "12.0",
		`vllm:request_success_total{engine="0",finished_reason="length",model_name="deepseek"}`: "3.0",
		`vllm:request_success_total{engine="0",finished_reason="stop",model_name="deepseek"}`:   "0.0",
		`vllm:request_success_total{engine="0",finished_reason="abort",model_name="deepseek"}`:  "0.0",
		// TTFT 23 ms: above 0.02, within 0.04
		`vllm:time_to_first_token_seconds_bucket{engine="0",le="0.02",model_name="deepseek"}`: "0.0",
		`vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="deepseek"}`: "3.0",
		`vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="deepseek"}`: "3.0",
		"vllm:time_to_first_token_seconds_count" + l:                                          "3.0",
		// 9 inter-token intervals of 25.75 ms: within 0.05, above 0.025
		`vllm:time_per_output_token_seconds_bucket{engine="0",le="0.025",model_name="deepseek"}`: "0.0",
		`vllm:time_per_output_token_seconds_bucket{engine="0",le="0.05",model_name="deepseek"}`:  "9.0",
		"vllm:e2e_request_latency_seconds_count" + l:                                             "3.0",
		`vllm:request_prompt_tokens_bucket{engine="0",le="5.0",model_name="deepseek"}`:           "0.0",
		`vllm:request_prompt_tokens_bucket{engine="0",le="10.0",model_name="deepseek"}`:          "3.0",
		`vllm:request_params_n_bucket{engine="0",le="1.0",model_name="deepseek"}`:                "3.0",
		// one prefill step (24 prompt + 3 tokens) and three decode steps of 3 tokens
		"vllm:iteration_tokens_total_count" + l: "4.0",
		"vllm:iteration_tokens_total_sum" + l:   "36.0",
	} {
		if samples[key] != want {
			t.Errorf("%s = %q, want %q", key, samples[key], want)
		}
	}
	if got := samples["vllm:e2e_request_latency_seconds_sum"+l]; got != pyFloat(3*(0.023+3*0.02575)) {
		t.Errorf("e2e sum %s", got)
	}
}

// TestServerAnswersThroughTheModel runs the HTTP handlers in real time at a time scale of 0.01.
func TestServerAnswersThroughTheModel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "engine.env")
	if err := os.WriteFile(file, []byte("SIM_ENGINE_TIME_SCALE=0.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIM_ENGINE_KNOBS_FILE", file)
	args, _ := parseServeArgs([]string{"/m", "--served-model-name", "deepseek", "--max-num-seqs", "8"})
	e := &engine{args: args, model: "/m", served: "deepseek", maxModelLen: 4096, role: "standalone", hostIP: "127.0.0.1", port: 9000}
	e.knobs = newKnobs(9000, "standalone")
	if msg := e.startCore(); msg != "" {
		t.Fatal(msg)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/completions", func(w http.ResponseWriter, r *http.Request) { e.handleGenerate(w, r, false) })
	mux.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { e.handleGenerate(w, r, true) })
	mux.HandleFunc("/metrics", e.handleMetrics)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(path, body string) (int, string) {
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	started := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := post("/v1/completions", `{"model":"deepseek","prompt":"hello there","max_tokens":8}`)
			var resp struct {
				Choices []struct{ Text string }
				Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
			}
			_ = json.Unmarshal([]byte(body), &resp)
			if code != 200 || len(resp.Choices) != 1 || !strings.HasSuffix(resp.Choices[0].Text, " tok7") ||
				!strings.HasPrefix(resp.Choices[0].Text, " [standalone 127.0.0.1:9000]") {
				t.Errorf("completion: %d %s", code, body)
			}
		}()
	}
	wg.Wait()
	code, body := post("/v1/chat/completions", `{"model":"deepseek","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`)
	if code != 200 || strings.Count(body, "data: ") != 5 || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream: one chunk per token, then [DONE]: %d %s", code, body)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Errorf("at time scale 0.01 the requests should take milliseconds, took %v", took)
	}
	code, body = post("/v1/completions", `{"model":"deepseek","prompt":"x","max_tokens":4096}`)
	if code != 400 || !strings.Contains(body, "This model's maximum context length is 4096 tokens. However, you requested 4097 tokens (1 in the messages, 4096 in the completion).") {
		t.Errorf("over max_model_len: %d %s", code, body)
	}

	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	samples, _ := metricLines(t, string(text))
	l := `{engine="0",model_name="deepseek"}`
	for key, want := range map[string]string{
		`vllm:request_success_total{engine="0",finished_reason="length",model_name="deepseek"}`: "6.0",
		"vllm:prompt_tokens_total" + l:                 "11.0",
		"vllm:generation_tokens_total" + l:             "44.0",
		"vllm:time_per_output_token_seconds_count" + l: "38.0",
		"vllm:num_requests_running" + l:                "0.0",
		"vllm:gpu_cache_usage_perc" + l:                "0.0",
	} {
		if samples[key] != want {
			t.Errorf("%s = %q, want %q", key, samples[key], want)
		}
	}
}
