package main

import (
	"math"
	"strings"
	"sync"
	"time"
)

// The performance model of the simulated engine: pure formulas over parameters that come from
// the knob file (docs/engine-model.md has every formula, knob, default and where it comes from).
// Nothing here sleeps or burns CPU; the schedulers (prefill.go, decode.go) turn these durations
// into timers.

// Defaults: a DeepSeek-V3/R1-class model on one Ascend 910C die or H100-class GPU per API server.
const (
	defPrefillTokensPerS = 8000.0 // prompt tokens per second of one prefill API server
	defPrefillStepMs     = 20.0   // fixed cost of one prefill step (scheduling, launch, MoE all-to-all)
	defDecodeStepMs      = 25.0   // decode step with an (almost) empty batch
	defDecodePerSeqMs    = 0.25   // added to a decode step per running sequence
	defKVBytesPerToken   = 70272  // MLA: (kv_lora_rank 512 + rope 64) x 61 layers x 2 bytes
	defKVLinkGBps        = 25.0   // GB/s (1e9 bytes) of the link a decode pulls KV over: one 200 Gb/s port
	defKVTransferMs      = 1.0    // fixed setup cost of one KV pull
	defKVCacheGiB        = 18.0   // HBM left for the KV cache of one API server
	defBlockSize         = 128    // vllm-ascend's block size (the seed passes --block-size 128 too)
	defMaxBatchedTokens  = 2048   // vLLM 0.9 V1, OpenAI server, device < 70 GiB (a 64 GB 910C die)
	defMaxNumSeqs        = 256    // idem
	defMaxTokens         = 16     // max_tokens when a request gives none (vLLM: max_model_len - prompt)
)

// perfParams is one reading of every model parameter. The schedulers take a fresh one per step,
// so a test changes a running server by writing the knob file.
type perfParams struct {
	TimeScale         float64 // wall seconds per model second (0.1: ten times faster)
	PrefillTokensPerS float64
	PrefillStep       time.Duration
	DecodeStep        time.Duration
	DecodePerSeq      time.Duration
	TokenDelay        time.Duration // SIM_ENGINE_TOKEN_MS: added to every decode step
	KVBytesPerToken   float64
	KVLinkBytesPerS   float64
	KVTransferBase    time.Duration
	BlockSize         int
	KVBlocks          int // KV cache capacity in blocks of BlockSize tokens
	MaxBatchedTokens  int // token budget of one step (--max-num-batched-tokens)
	MaxNumSeqs        int // running requests at most (--max-num-seqs)
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// engineConfig is what the command line fixes for the engine's life (vLLM's config classes);
// knobs may override each per step.
type engineConfig struct {
	blockSize        int
	maxBatchedTokens int
	maxNumSeqs       int
	gpuBlocks        int // --num-gpu-blocks-override, 0 if not given
	maxModelLen      int
}

func configFromArgs(a *serveArgs, maxModelLen int) engineConfig {
	return engineConfig{
		blockSize:        a.intOr("block-size", defBlockSize),
		maxBatchedTokens: a.intOr("max-num-batched-tokens", defMaxBatchedTokens),
		maxNumSeqs:       a.intOr("max-num-seqs", defMaxNumSeqs),
		gpuBlocks:        a.intOr("num-gpu-blocks-override", 0),
		maxModelLen:      maxModelLen,
	}
}

// readParams reads every parameter from the knobs (file, then environment) over the engine's
// command-line configuration.
func readParams(k *knobs, c engineConfig) perfParams {
	p := perfParams{
		TimeScale:         math.Max(0, k.float("SIM_ENGINE_TIME_SCALE", 1)),
		PrefillTokensPerS: k.float("SIM_ENGINE_PREFILL_TOKENS_PER_S", defPrefillTokensPerS),
		PrefillStep:       ms(k.float("SIM_ENGINE_PREFILL_STEP_MS", defPrefillStepMs)),
		DecodeStep:        ms(k.float("SIM_ENGINE_DECODE_STEP_MS", defDecodeStepMs)),
		DecodePerSeq:      ms(k.float("SIM_ENGINE_DECODE_PER_SEQ_MS", defDecodePerSeqMs)),
		TokenDelay:        ms(k.float("SIM_ENGINE_TOKEN_MS", 0)),
		KVBytesPerToken:   k.float("SIM_ENGINE_KV_BYTES_PER_TOKEN", defKVBytesPerToken),
		KVLinkBytesPerS:   k.float("SIM_ENGINE_KV_LINK_GBPS", defKVLinkGBps) * 1e9,
		KVTransferBase:    ms(k.float("SIM_ENGINE_KV_TRANSFER_MS", defKVTransferMs)),
		BlockSize:         c.blockSize,
		MaxBatchedTokens:  k.int("SIM_ENGINE_MAX_NUM_BATCHED_TOKENS", c.maxBatchedTokens),
		MaxNumSeqs:        k.int("SIM_ENGINE_MAX_NUM_SEQS", c.maxNumSeqs),
	}
	p.KVBlocks = kvBlocks(c, p, k.int("SIM_ENGINE_KV_TOKENS", 0), k.float("SIM_ENGINE_KV_CACHE_GIB", defKVCacheGiB))
	return p.sane()
}

// kvBlocks: SIM_ENGINE_KV_TOKENS if set, else --num-gpu-blocks-override, else the KV cache's
// bytes over the bytes one token takes.
func kvBlocks(c engineConfig, p perfParams, tokens int, gib float64) int {
	switch {
	case tokens > 0:
		return tokens / max(p.BlockSize, 1)
	case c.gpuBlocks > 0:
		return c.gpuBlocks
	}
	return int(gib * (1 << 30) / math.Max(p.KVBytesPerToken, 1) / float64(max(p.BlockSize, 1)))
}

// sane keeps a mistyped knob from stalling the engine: rates and sizes stay positive.
func (p perfParams) sane() perfParams {
	if p.PrefillTokensPerS <= 0 {
		p.PrefillTokensPerS = defPrefillTokensPerS
	}
	if p.KVLinkBytesPerS <= 0 {
		p.KVLinkBytesPerS = defKVLinkGBps * 1e9
	}
	p.BlockSize = max(p.BlockSize, 1)
	p.MaxBatchedTokens = max(p.MaxBatchedTokens, 1)
	p.MaxNumSeqs = max(p.MaxNumSeqs, 1)
	p.KVBlocks = max(p.KVBlocks, 0)
	for _, d := range []*time.Duration{&p.PrefillStep, &p.DecodeStep, &p.DecodePerSeq, &p.TokenDelay, &p.KVTransferBase} {
		*d = max(*d, 0)
	}
	return p
}

// countTokens is the simulator's tokenizer: one token per whitespace-separated word, at least
// one (a real tokenizer adds a BOS token to an empty prompt).
func countTokens(text string) int {
	return max(1, len(strings.Fields(text)))
}

// prefillStepTime: a step that processes `tokens` prompt tokens.
func prefillStepTime(p perfParams, tokens int) time.Duration {
	return p.PrefillStep + time.Duration(float64(tokens)/p.PrefillTokensPerS*float64(time.Second))
}

// decodeStepTime: one decode step with `running` sequences; each gets one token.
func decodeStepTime(p perfParams, running int) time.Duration {
	return p.DecodeStep + time.Duration(running)*p.DecodePerSeq + p.TokenDelay
}

// kvTransferTime: a decode pulls the KV of `promptTokens` from its prefill.
func kvTransferTime(p perfParams, promptTokens int) time.Duration {
	return p.KVTransferBase + time.Duration(float64(promptTokens)*p.KVBytesPerToken/p.KVLinkBytesPerS*float64(time.Second))
}

// blocksFor: KV blocks a sequence of `tokens` tokens occupies.
func blocksFor(p perfParams, tokens int) int {
	return (tokens + p.BlockSize - 1) / p.BlockSize
}

// scaled is a model duration in wall time.
func scaled(p perfParams, d time.Duration) time.Duration {
	return time.Duration(float64(d) * p.TimeScale)
}

// paramCache re-reads the knobs at most every `every` (a decode step at a tiny time scale would
// otherwise stat the knob file thousands of times a second).
type paramCache struct {
	mu    sync.Mutex
	read  func() perfParams
	every time.Duration
	at    time.Time
	p     perfParams
}

func (c *paramCache) get() perfParams {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.at.IsZero() || now.Sub(c.at) >= c.every {
		c.p, c.at = c.read(), now
	}
	return c.p
}
