package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// vLLM 0.9's V1 metrics (vllm/v1/metrics/loggers.py, PrometheusStatLogger), by the same names,
// types, label sets and histogram buckets, as prometheus_client writes them on GET /metrics in
// the text exposition format 0.0.4: counters get "_total", counters and histograms a
// "<name>_created" gauge, labels sorted, numbers as Python's floats.
// docs/engine-model.md lists them and what the simulator records on each role.

// Bucket boundaries, as in loggers.py.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	tpotBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	requestLatencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
	iterationTokenBuckets = []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
	nBuckets              = []float64{1, 2, 5, 10, 20}
)

// build125Buckets is loggers.py's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, … up to max.
func build125Buckets(maxValue int) []float64 {
	var out []float64
	for exp := 1; ; exp *= 10 {
		for _, m := range []int{1, 2, 5} {
			v := m * exp
			if v > maxValue {
				return out
			}
			out = append(out, float64(v))
		}
	}
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v: prometheus_client's "v <= bound"
	h.counts[i]++
	h.sum += v
}

func (h *histogram) count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// vllmMetrics holds one API server's metrics (its engine: label engine="<dp rank>").
type vllmMetrics struct {
	model, engine string
	created       float64
	cacheInfo     map[string]string

	prefixQueries, prefixHits, preemptions float64
	promptTokens, generationTokens         float64
	success                                map[string]float64 // by finished_reason

	requestPromptTokens, requestGenerationTokens, iterationTokens *histogram
	requestMaxNumGenerationTokens, requestN, requestMaxTokens     *histogram
	timeToFirstToken, timePerOutputToken                          *histogram
	e2eLatency, queueTime, inferenceTime, prefillTime, decodeTime *histogram
}

// finishReasons: vLLM's FinishReason in enum order, each a request_success child from the start.
var finishReasons = []string{"stop", "length", "abort"}

func newVllmMetrics(model string, engine int, maxModelLen int, cacheInfo map[string]string, now time.Time) *vllmMetrics {
	lens := build125Buckets(maxModelLen)
	return &vllmMetrics{
		model: model, engine: strconv.Itoa(engine), cacheInfo: cacheInfo,
		created: float64(now.UnixNano()) / 1e9,
		success: map[string]float64{},

		requestPromptTokens:           newHistogram(lens),
		requestGenerationTokens:       newHistogram(lens),
		iterationTokens:               newHistogram(iterationTokenBuckets),
		requestMaxNumGenerationTokens: newHistogram(lens),
		requestN:                      newHistogram(nBuckets),
		requestMaxTokens:              newHistogram(lens),
		timeToFirstToken:              newHistogram(ttftBuckets),
		timePerOutputToken:            newHistogram(tpotBuckets),
		e2eLatency:                    newHistogram(requestLatencyBuckets),
		queueTime:                     newHistogram(requestLatencyBuckets),
		inferenceTime:                 newHistogram(requestLatencyBuckets),
		prefillTime:                   newHistogram(requestLatencyBuckets),
		decodeTime:                    newHistogram(requestLatencyBuckets),
	}
}

// firstToken: the request's first output on this engine (vLLM's "is_prefilling" output): its
// prompt counts as processed here and TTFT is measured from its arrival at this engine.
func (m *vllmMetrics) firstToken(r *simRequest, now time.Time) {
	m.promptTokens += float64(r.promptTokens)
	m.generationTokens++
	m.timeToFirstToken.observe(now.Sub(r.arrival).Seconds())
}

// nextToken: a later token, `prev` being the one before (vLLM's time_per_output_token is the
// interval between two outputs of a request).
func (m *vllmMetrics) nextToken(prev, now time.Time) {
	m.generationTokens++
	m.timePerOutputToken.observe(now.Sub(prev).Seconds())
}

// finished records a request that got all its tokens, with vLLM's intervals: queued = arrival
// to first scheduled, prefill = scheduled to first token, decode = first to last token,
// inference = scheduled to last token, e2e = arrival to last token.
func (m *vllmMetrics) finished(r *simRequest, now time.Time) {
	m.success["length"]++
	m.e2eLatency.observe(now.Sub(r.arrival).Seconds())
	m.queueTime.observe(r.scheduledAt.Sub(r.arrival).Seconds())
	m.prefillTime.observe(r.firstTokenAt.Sub(r.scheduledAt).Seconds())
	m.inferenceTime.observe(r.lastTokenAt.Sub(r.scheduledAt).Seconds())
	m.decodeTime.observe(r.lastTokenAt.Sub(r.firstTokenAt).Seconds())
	m.requestPromptTokens.observe(float64(r.promptTokens))
	m.requestGenerationTokens.observe(float64(r.generated))
	m.requestMaxTokens.observe(float64(r.maxTokens))
	m.requestMaxNumGenerationTokens.observe(float64(r.generated))
	m.requestN.observe(1)
}

// write prints the exposition, the gauges from the scheduler's state now.
func (m *vllmMetrics) write(w io.Writer, running, waiting int, kvUsage float64) {
	labels := func(extra ...string) string {
		kv := map[string]string{"model_name": m.model, "engine": m.engine}
		for i := 0; i+1 < len(extra); i += 2 {
			kv[extra[i]] = extra[i+1]
		}
		return labelString(kv)
	}
	base := labels()
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", name, help, name, name, base, pyFloat(v))
	}
	created := func(name, help string, series ...string) {
		fmt.Fprintf(w, "# HELP %s_created %s\n# TYPE %s_created gauge\n", name, help, name)
		for _, s := range series {
			fmt.Fprintf(w, "%s_created%s %s\n", name, s, pyFloat(m.created))
		}
	}
	counter := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s_total %s\n# TYPE %s_total counter\n%s_total%s %s\n", name, help, name, name, base, pyFloat(v))
		created(name, help, base)
	}
	hist := func(name, help string, h *histogram) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
		var acc uint64
		for i, c := range h.counts {
			acc += c
			le := "+Inf"
			if i < len(h.bounds) {
				le = pyFloat(h.bounds[i])
			}
			fmt.Fprintf(w, "%s_bucket%s %s\n", name, labels("le", le), pyFloat(float64(acc)))
		}
		fmt.Fprintf(w, "%s_count%s %s\n%s_sum%s %s\n", name, base, pyFloat(float64(acc)), name, base, pyFloat(h.sum))
		created(name, help, base)
	}

	gauge("vllm:num_requests_running", "Number of requests in model execution batches.", float64(running))
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", float64(waiting))
	gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", kvUsage)
	counter("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of queried tokens.", m.prefixQueries)
	counter("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached tokens.", m.prefixHits)
	counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", m.preemptions)
	counter("vllm:prompt_tokens", "Number of prefill tokens processed.", m.promptTokens)
	counter("vllm:generation_tokens", "Number of generation tokens processed.", m.generationTokens)

	const successHelp = "Count of successfully processed requests."
	fmt.Fprintf(w, "# HELP vllm:request_success_total %s\n# TYPE vllm:request_success_total counter\n", successHelp)
	var children []string
	for _, reason := range finishReasons {
		l := labels("finished_reason", reason)
		children = append(children, l)
		fmt.Fprintf(w, "vllm:request_success_total%s %s\n", l, pyFloat(m.success[reason]))
	}
	created("vllm:request_success", successHelp, children...)

	hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", m.requestPromptTokens)
	hist("vllm:request_generation_tokens", "Number of generation tokens processed.", m.requestGenerationTokens)
	hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", m.iterationTokens)
	hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", m.requestMaxNumGenerationTokens)
	hist("vllm:request_params_n", "Histogram of the n request parameter.", m.requestN)
	hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", m.requestMaxTokens)
	hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", m.timeToFirstToken)
	hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", m.timePerOutputToken)
	hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", m.e2eLatency)
	hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", m.queueTime)
	hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", m.inferenceTime)
	hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", m.prefillTime)
	hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", m.decodeTime)

	info := map[string]string{"engine": m.engine}
	for k, v := range m.cacheInfo {
		info[k] = v
	}
	fmt.Fprintf(w, "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info%s 1.0\n", labelString(info))
}

// labelString is prometheus_client's: sorted by name, values escaped.
func labelString(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(`%s="%s"`, k, esc.Replace(kv[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// pyFloat is prometheus_client's floatToGoString: Python's repr of the float, switched to an
// exponent past six integer digits as Go's formatting would.
func pyFloat(d float64) string {
	switch {
	case math.IsInf(d, 1):
		return "+Inf"
	case math.IsInf(d, -1):
		return "-Inf"
	case math.IsNaN(d):
		return "NaN"
	}
	s := pyRepr(d)
	if dot := strings.IndexByte(s, '.'); d > 0 && dot > 6 {
		mantissa := strings.TrimRight(s[:1]+"."+s[1:dot]+s[dot+1:], "0.")
		return fmt.Sprintf("%se+0%d", mantissa, dot-1)
	}
	return s
}

// pyRepr is Python's repr of a float: the shortest digits that read back the same, in
// scientific notation for exponents below -4 or from 16 up, else fixed with at least ".0".
func pyRepr(d float64) string {
	if d == 0 {
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(d, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	f := strconv.FormatFloat(d, 'f', -1, 64)
	if !strings.Contains(f, ".") {
		f += ".0"
	}
	return f
}
