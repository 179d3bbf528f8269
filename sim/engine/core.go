package main

import (
	"fmt"
	"sync"
	"time"
)

// engineCore is one API server's engine: its schedulers, KV cache and metrics under one lock,
// and two loops (prefill, decode) that sleep through each step. A PD prefill uses the prefill
// stage (and the decode stage only when asked for more than the one token the proxy asks for),
// a PD decode pulls the KV and uses the decode stage, a standalone engine both in turn.
type engineCore struct {
	mu      sync.Mutex
	params  func() perfParams
	kv      kvPool
	pre     prefillScheduler
	dec     decodeScheduler
	metrics *vllmMetrics

	now   func() time.Time
	sleep func(time.Duration)
	after func(time.Duration, func())

	preWake, decWake chan struct{}
}

func newEngineCore(params func() perfParams, m *vllmMetrics) *engineCore {
	return &engineCore{params: params, metrics: m, now: time.Now, sleep: time.Sleep,
		after:   func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		preWake: make(chan struct{}, 1), decWake: make(chan struct{}, 1)}
}

// start runs the two loops for the life of the process.
func (c *engineCore) start() {
	go c.prefillLoop()
	go c.decodeLoop()
}

func (c *engineCore) wake() {
	for _, ch := range []chan struct{}{c.preWake, c.decWake} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (c *engineCore) prefillLoop() {
	for {
		p, d, ok := c.prefillStart(c.now())
		if !ok {
			<-c.preWake
			continue
		}
		c.sleep(scaled(p, d))
		c.prefillEnd(c.now())
	}
}

func (c *engineCore) decodeLoop() {
	for {
		p, d, pulls, ok := c.decodeStart(c.now())
		for _, pl := range pulls {
			r := pl.r
			c.after(scaled(p, pl.d), func() { c.pullEnd(r) })
		}
		if !ok {
			<-c.decWake
			continue
		}
		c.sleep(scaled(p, d))
		c.decodeEnd(c.now())
	}
}

// submit queues a request: at the decode stage when its prompt's KV comes from a remote
// prefill, else at the prefill stage. "" or the reason it can never run here.
func (c *engineCore) submit(r *simRequest) string {
	c.mu.Lock()
	p := c.params()
	if need := blocksFor(p, r.promptTokens+r.maxTokens); need > p.KVBlocks {
		c.mu.Unlock()
		return refusalMessage(r, need, p)
	}
	if r.remotePrefill {
		r.stage = stageDecodeWaiting
		c.dec.waiting = append(c.dec.waiting, r)
	} else {
		r.stage = stagePrefillWaiting
		c.pre.waiting = append(c.pre.waiting, r)
	}
	c.mu.Unlock()
	c.wake()
	return ""
}

// abort drops a request whose client went away (vLLM aborts it and frees its blocks; it is not
// counted as a success).
func (c *engineCore) abort(r *simRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.stage {
	case stageDone, stageAborted:
		return
	case stagePrefillWaiting:
		c.pre.waiting = remove(c.pre.waiting, r)
	case stagePrefilling:
		c.pre.running = remove(c.pre.running, r)
	case stageDecodeWaiting:
		c.dec.waiting = remove(c.dec.waiting, r)
	case stageReady:
		c.dec.ready = remove(c.dec.ready, r)
	case stageRunning:
		c.dec.running = remove(c.dec.running, r)
	case stagePulling:
		// the transfer's end (pullEnd) finds it aborted
	}
	r.stage = stageAborted
	c.kv.release(r)
	c.wake()
}

// prefillStart forms the next prefill step at `now`: its model duration, or false when idle.
func (c *engineCore) prefillStart(now time.Time) (perfParams, time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.params()
	st := c.pre.schedule(p, &c.kv, c.metrics, now)
	if st == nil {
		return p, 0, false
	}
	return p, st.dur, true
}

// prefillEnd completes the prefill step: finished prompts answer (max_tokens 1) or go on to
// the decode stage of this engine with their blocks.
func (c *engineCore) prefillEnd(now time.Time) {
	c.mu.Lock()
	for _, r := range c.pre.complete(c.metrics, now) {
		if r.generated >= r.maxTokens {
			c.finish(r, now)
		} else {
			r.stage = stageDecodeWaiting
			c.dec.waiting = append(c.dec.waiting, r)
		}
		r.signal()
	}
	c.mu.Unlock()
	c.wake()
}

type pull struct {
	r *simRequest
	d time.Duration
}

// decodeStart admits waiting requests (returning the KV pulls to start) and forms the next
// decode step: its model duration, or false when nothing runs.
func (c *engineCore) decodeStart(now time.Time) (perfParams, time.Duration, []pull, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.params()
	var pulls []pull
	for _, r := range c.dec.admit(p, &c.kv, c.metrics) {
		pulls = append(pulls, pull{r, kvTransferTime(p, r.promptTokens)})
	}
	st := c.dec.schedule(p, now)
	if st == nil {
		return p, 0, pulls, false
	}
	return p, st.dur, pulls, true
}

func (c *engineCore) pullEnd(r *simRequest) {
	c.mu.Lock()
	c.dec.pulled(r)
	c.mu.Unlock()
	c.wake()
}

// decodeEnd completes the decode step: every request in it has one more token.
func (c *engineCore) decodeEnd(now time.Time) {
	c.mu.Lock()
	st := c.dec.step
	done := c.dec.complete(c.metrics, now)
	for _, r := range done {
		c.finish(r, now)
	}
	if st != nil {
		for _, r := range st.reqs {
			r.signal()
		}
	}
	c.mu.Unlock()
	c.wake()
}

// finish: the request has all its tokens (finish_reason "length": the simulator never emits EOS).
func (c *engineCore) finish(r *simRequest, now time.Time) {
	r.stage = stageDone
	c.kv.release(r)
	c.metrics.finished(r, now)
}

// load is what the scheduler gauges show: requests in batches, requests waiting (queued,
// pulling KV, or ready for the next step), and the KV cache's used fraction.
func (c *engineCore) load() (running, waiting int, usage float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.params()
	running = len(c.pre.running) + len(c.dec.running)
	waiting = len(c.pre.waiting) + len(c.dec.waiting) + c.dec.pulling + len(c.dec.ready)
	if p.KVBlocks > 0 {
		usage = float64(c.kv.used) / float64(p.KVBlocks)
	}
	return running, waiting, usage
}

// progress is a request's state as the HTTP handler sees it.
func (c *engineCore) progress(r *simRequest) (generated int, finished bool, err string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return r.generated, r.finished(), r.err
}

func refusalMessage(r *simRequest, need int, p perfParams) string {
	return fmt.Sprintf("the request needs %d tokens of KV cache (%d prompt + %d max_tokens, %d blocks of %d) but this engine's KV cache holds %d tokens (%d blocks); SIM_ENGINE_KV_TOKENS or SIM_ENGINE_KV_CACHE_GIB was lowered below max_model_len after start-up",
		r.promptTokens+r.maxTokens, r.promptTokens, r.maxTokens, need, p.BlockSize, p.KVBlocks*p.BlockSize, p.KVBlocks)
}
