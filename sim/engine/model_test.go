package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCountTokensIsOnePerWordAtLeastOne(t *testing.T) {
	for text, want := range map[string]int{"": 1, "hello": 1, "hello there": 2, "  a\tb\nc  ": 3} {
		if got := countTokens(text); got != want {
			t.Errorf("countTokens(%q) = %d, want %d", text, got, want)
		}
	}
}

func TestFormulas(t *testing.T) {
	p := testParams()
	// prefill: 20 ms + tokens / 8000 per s
	if got, want := prefillStepTime(p, 4000), 20*time.Millisecond+500*time.Millisecond; got != want {
		t.Errorf("prefill step of 4000 tokens = %v, want %v", got, want)
	}
	// decode: 25 ms + 0.25 ms per running sequence
	if got, want := decodeStepTime(p, 1), 25250*time.Microsecond; got != want {
		t.Errorf("decode step with 1 = %v, want %v", got, want)
	}
	if got, want := decodeStepTime(p, 96), 49*time.Millisecond; got != want {
		t.Errorf("decode step with 96 = %v, want %v", got, want)
	}
	p.TokenDelay = 5 * time.Millisecond // SIM_ENGINE_TOKEN_MS lengthens every step
	if got, want := decodeStepTime(p, 1), 30250*time.Microsecond; got != want {
		t.Errorf("decode step with SIM_ENGINE_TOKEN_MS=5 = %v, want %v", got, want)
	}
	// KV pull: 1 ms + tokens x 70272 B / 25 GB/s
	if got, want := kvTransferTime(p, 1000), time.Millisecond+2810880*time.Nanosecond; got != want {
		t.Errorf("KV pull of 1000 tokens = %v, want %v", got, want)
	}
	if got := blocksFor(p, 129); got != 2 {
		t.Errorf("129 tokens in blocks of 128 = %d, want 2", got)
	}
	p.TimeScale = 0.1
	if got := scaled(p, time.Second); got != 100*time.Millisecond {
		t.Errorf("time scale 0.1 of 1 s = %v", got)
	}
}

func TestParamsFromKnobsFlagsAndDefaults(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "engine.env")
	t.Setenv("SIM_ENGINE_KNOBS_FILE", file)
	k := newKnobs(9100, "decode")
	args, err := parseServeArgs([]string{"/m", "--max-num-seqs", "32"})
	if err != nil {
		t.Fatal(err)
	}
	c := configFromArgs(args, 16384)
	p := readParams(k, c)
	if p.MaxNumSeqs != 32 || p.MaxBatchedTokens != 2048 || p.BlockSize != 128 {
		t.Errorf("flags and vLLM defaults: seqs %d batched %d block %d", p.MaxNumSeqs, p.MaxBatchedTokens, p.BlockSize)
	}
	// 18 GiB over 70272 bytes a token, in whole blocks of 128
	if p.KVBlocks != 2148 {
		t.Errorf("default KV cache = %d blocks, want 2148", p.KVBlocks)
	}
	if p.TimeScale != 1 || p.DecodeStep != 25*time.Millisecond {
		t.Errorf("defaults: scale %v decode step %v", p.TimeScale, p.DecodeStep)
	}
	// The knob file changes a running server; scoped keys beat plain ones.
	if err := os.WriteFile(file, []byte("SIM_ENGINE_DECODE_STEP_MS=40\nSIM_ENGINE_MAX_NUM_SEQS@decode=4\nSIM_ENGINE_KV_TOKENS@9100=1024\nSIM_ENGINE_TIME_SCALE=0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.reload()
	p = readParams(k, c)
	if p.DecodeStep != 40*time.Millisecond || p.MaxNumSeqs != 4 || p.KVBlocks != 8 || p.TimeScale != 0.5 {
		t.Errorf("from the knob file: step %v seqs %d blocks %d scale %v", p.DecodeStep, p.MaxNumSeqs, p.KVBlocks, p.TimeScale)
	}
	// --num-gpu-blocks-override sizes the cache when no knob does
	args, _ = parseServeArgs([]string{"/m", "--num-gpu-blocks-override", "100", "--block-size", "16"})
	_ = os.WriteFile(file, nil, 0o644)
	k.reload()
	if p := readParams(k, configFromArgs(args, 1024)); p.KVBlocks != 100 || p.BlockSize != 16 {
		t.Errorf("--num-gpu-blocks-override 100: %d blocks of %d", p.KVBlocks, p.BlockSize)
	}
}

func TestPrefillQueueGrowsAboveCapacity(t *testing.T) {
	// 1000-token prompts; a step takes two of them (budget 2048): 20 ms + 2000/8000 s = 270 ms,
	// so one server does about 7.4 requests/s. Send 10/s for 20 s.
	v := newVsim(testParams())
	var reqs []*simRequest
	for i, id := range ids(200, "r") {
		reqs = append(reqs, v.arrive(time.Duration(i)*100*time.Millisecond, id, 1000, 1, false))
	}
	maxWaiting := 0
	for s := time.Second; s <= 20*time.Second; s += time.Second {
		v.run(s)
		_, waiting, _ := v.c.load()
		maxWaiting = max(maxWaiting, waiting)
	}
	v.run(time.Hour)
	first, last := ttft(reqs[10]), ttft(reqs[190])
	if last < 10*first {
		t.Errorf("TTFT should grow with the queue: request 10 %v, request 190 %v", first, last)
	}
	if maxWaiting < 40 {
		t.Errorf("the waiting queue should grow (about 2.6 requests/s more than served): at most %d", maxWaiting)
	}
	for _, r := range reqs {
		if r.stage != stageDone || r.generated != 1 {
			t.Fatalf("%s: stage %v, %d tokens", r.id, r.stage, r.generated)
		}
	}
}

func TestTwoPrefillServersCutTTFT(t *testing.T) {
	run := func(servers int) []time.Duration {
		vs := make([]*vsim, servers)
		for i := range vs {
			vs[i] = newVsim(testParams())
		}
		var reqs []*simRequest
		for i, id := range ids(200, "r") {
			reqs = append(reqs, vs[i%servers].arrive(time.Duration(i)*100*time.Millisecond, id, 1000, 1, false))
		}
		var out []time.Duration
		for _, v := range vs {
			v.run(time.Hour)
		}
		for _, r := range reqs {
			out = append(out, ttft(r))
		}
		return out
	}
	one, two := percentile(run(1), 0.9), percentile(run(2), 0.9)
	if float64(two) > 0.6*float64(one) {
		t.Errorf("two prefill servers should cut TTFT p90 by at least 40%%: one %v, two %v", one, two)
	}
	// Under capacity nothing queues: a request waits at most for the step in flight.
	if two > 2*prefillStepTime(testParams(), 2000) {
		t.Errorf("two servers at 5 requests/s each should not queue: TTFT p90 %v", two)
	}
}

func TestChunkedPrefillOfALongPrompt(t *testing.T) {
	v := newVsim(testParams())
	r := v.arrive(0, "long", 5000, 1, false)
	v.run(time.Hour)
	// three steps within the 2048-token budget: 2048 + 2048 + 904
	want := 3*ms(defPrefillStepMs) + time.Duration(5000.0/defPrefillTokensPerS*float64(time.Second))
	if got := ttft(r); got != want {
		t.Errorf("TTFT of a 5000-token prompt = %v, want %v", got, want)
	}
}

func TestDecodeStepTimeGrowsWithTheBatch(t *testing.T) {
	tpot := func(n int) time.Duration {
		v := newVsim(testParams())
		var reqs []*simRequest
		for _, id := range ids(n, "d") {
			reqs = append(reqs, v.arrive(0, id, 100, 20, true))
		}
		v.run(time.Hour)
		r := reqs[0]
		return r.lastTokenAt.Sub(r.firstTokenAt) / time.Duration(r.generated-1)
	}
	for _, n := range []int{1, 32, 96} {
		if got, want := tpot(n), decodeStepTime(testParams(), n); got != want {
			t.Errorf("TPOT with %d running = %v, want %v", n, got, want)
		}
	}
	if tpot(96) <= tpot(1) {
		t.Error("a bigger batch should decode slower")
	}
}

func TestDecodePullsKVBeforeItsFirstStep(t *testing.T) {
	p := testParams()
	v := newVsim(p)
	r := v.arrive(0, "d", 4000, 3, true)
	v.run(time.Hour)
	want := kvTransferTime(p, 4000) + decodeStepTime(p, 1)
	if got := ttft(r); got != want {
		t.Errorf("decode TTFT = pull + one step = %v, got %v", want, got)
	}
	if r.generated != 3 {
		t.Errorf("a decode generates max_tokens tokens: %d", r.generated)
	}
}

func TestMaxNumSeqsLimitsTheBatch(t *testing.T) {
	p := testParams()
	p.MaxNumSeqs = 2
	v := newVsim(p)
	a, b, c := v.arrive(0, "a", 10, 5, true), v.arrive(0, "b", 10, 5, true), v.arrive(0, "c", 10, 5, true)
	// a's KV arrives first and its step starts; b's arrives during that step and joins the next.
	v.run(40 * time.Millisecond)
	if running, waiting, _ := v.c.load(); running != 2 || waiting != 1 {
		t.Errorf("max_num_seqs 2: %d running, %d waiting", running, waiting)
	}
	v.run(time.Hour)
	if !c.scheduledAt.After(a.lastTokenAt.Add(-time.Nanosecond)) || c.scheduledAt.Before(b.lastTokenAt) {
		t.Errorf("the third request joins when a slot frees: scheduled %v, a done %v", c.scheduledAt.Sub(v.t0), a.lastTokenAt.Sub(v.t0))
	}
}

func TestRequestLargerThanFreeKVWaits(t *testing.T) {
	p := testParams()
	p.KVBlocks = 8 // 1024 tokens
	v := newVsim(p)
	a := v.arrive(0, "a", 500, 100, true)                         // 5 blocks
	b := v.arrive(time.Millisecond, "b", 500, 100, true)          // 5 blocks: only 3 free
	c := v.arrive(2*time.Millisecond, "c", 100, 10, true)         // 1 block: fits, but waits behind b (FCFS)
	huge := v.arrive(3*time.Millisecond, "huge", 1000, 100, true) // 9 blocks: never fits
	v.run(50 * time.Millisecond)
	running, waiting, usage := v.c.load()
	if running != 1 || waiting != 2 || usage != 5.0/8 {
		t.Errorf("while a runs: %d running, %d waiting, KV usage %v", running, waiting, usage)
	}
	if huge.err == "" {
		t.Error("a request larger than the whole KV cache is refused")
	}
	v.run(time.Hour)
	if b.scheduledAt.Before(a.lastTokenAt) {
		t.Errorf("b waits for a's blocks: b scheduled at %v, a finished at %v", b.scheduledAt.Sub(v.t0), a.lastTokenAt.Sub(v.t0))
	}
	if c.scheduledAt.Before(a.lastTokenAt) {
		t.Error("c fits but does not overtake b: it starts only once b could be admitted")
	}
	if v.c.kv.used != 0 {
		t.Errorf("every block is free at the end: %d used", v.c.kv.used)
	}
}

func TestStandalonePrefillThenDecode(t *testing.T) {
	p := testParams()
	v := newVsim(p)
	r := v.arrive(0, "s", 8, 4, false)
	v.run(time.Hour)
	if got, want := ttft(r), prefillStepTime(p, 8); got != want {
		t.Errorf("standalone TTFT = one prefill step %v, got %v", want, got)
	}
	if got, want := r.lastTokenAt.Sub(r.firstTokenAt), 3*decodeStepTime(p, 1); got != want {
		t.Errorf("then 3 decode steps %v, got %v", want, got)
	}
}

func TestAbortFreesTheRequest(t *testing.T) {
	v := newVsim(testParams())
	r := v.arrive(0, "gone", 100, 1000, true)
	v.run(200 * time.Millisecond)
	v.c.abort(r)
	v.run(time.Hour)
	if r.stage != stageAborted || v.c.kv.used != 0 || v.c.metrics.success["length"] != 0 {
		t.Errorf("aborted: stage %v, %d blocks used, %v successes", r.stage, v.c.kv.used, v.c.metrics.success["length"])
	}
}
