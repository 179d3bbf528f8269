package main

import "time"

// The two schedulers of a simulated engine as state machines: a step is formed at one instant
// (schedule) and completed at a later one (complete); core.go drives them with timers, the tests
// with a virtual clock. Both follow vLLM 0.9's V1 scheduler where it matters for latency: FCFS
// queues, a token budget per step with chunked prefill, at most max_num_seqs running, and a
// request whose KV blocks do not fit blocks the queue behind it (V1 stops scheduling waiting
// requests at the first allocation failure).

// prefillScheduler computes prompts.
type prefillScheduler struct {
	waiting []*simRequest
	running []*simRequest // admitted, prompt partly computed
	step    *prefillStep  // in flight
}

type prefillStep struct {
	reqs   []*simRequest
	tokens []int // prompt tokens of each request computed by this step
	total  int
	dur    time.Duration
}

// schedule forms the next step: the running requests' remaining prompt first, then waiting
// requests in order, within the step's token budget (the last one chunked to fit) and the
// max_num_seqs limit. A request is admitted once its KV blocks (prompt + max_tokens) are free.
// nil: nothing to compute.
func (s *prefillScheduler) schedule(p perfParams, kv *kvPool, m *vllmMetrics, now time.Time) *prefillStep {
	budget := p.MaxBatchedTokens
	st := &prefillStep{}
	add := func(r *simRequest) {
		n := min(r.promptTokens-r.prefilled, budget)
		st.reqs, st.tokens = append(st.reqs, r), append(st.tokens, n)
		st.total += n
		budget -= n
	}
	for _, r := range s.running {
		if budget == 0 {
			break
		}
		add(r)
	}
	for len(s.waiting) > 0 && budget > 0 && len(s.running) < p.MaxNumSeqs {
		r := s.waiting[0]
		need := blocksFor(p, r.promptTokens+r.maxTokens)
		if need > p.KVBlocks {
			s.waiting = s.waiting[1:]
			refuse(r, need, p)
			continue
		}
		if need > kv.free(p.KVBlocks) {
			break
		}
		s.waiting = s.waiting[1:]
		kv.take(r, need)
		m.prefixQueries += float64(r.promptTokens)
		r.stage, r.scheduledAt = stagePrefilling, now
		s.running = append(s.running, r)
		add(r)
	}
	if len(st.reqs) == 0 {
		return nil
	}
	st.dur = prefillStepTime(p, st.total)
	s.step = st
	return st
}

// complete ends the step in flight at `now`: requests whose whole prompt is computed produce
// their first token and leave; they are returned (still holding their KV blocks).
func (s *prefillScheduler) complete(m *vllmMetrics, now time.Time) []*simRequest {
	st := s.step
	s.step = nil
	if st == nil {
		return nil
	}
	var done []*simRequest
	iterTokens := 0
	for i, r := range st.reqs {
		if r.stage != stagePrefilling {
			continue // aborted meanwhile
		}
		r.prefilled += st.tokens[i]
		if r.prefilled < r.promptTokens {
			continue
		}
		r.token(now)
		m.firstToken(r, now)
		iterTokens += r.promptTokens + 1
		done = append(done, r)
	}
	s.running = without(s.running, done)
	if iterTokens > 0 {
		m.iterationTokens.observe(float64(iterTokens))
	}
	return done
}

// decodeScheduler generates tokens with continuous batching.
type decodeScheduler struct {
	waiting []*simRequest // FCFS: for a slot and KV blocks
	pulling int           // KV transfers in flight
	ready   []*simRequest // KV here: join the batch at the next step
	running []*simRequest
	step    *decodeStep
}

type decodeStep struct {
	reqs []*simRequest
	dur  time.Duration
}

// admit takes waiting requests in order while a slot (max_num_seqs counts running, ready and
// pulling requests) and their KV blocks are free. A request from a remote prefill must pull its
// KV first: those are returned, the caller starts each transfer.
func (s *decodeScheduler) admit(p perfParams, kv *kvPool, m *vllmMetrics) []*simRequest {
	var pulls []*simRequest
	for len(s.waiting) > 0 && len(s.running)+len(s.ready)+s.pulling < p.MaxNumSeqs {
		r := s.waiting[0]
		if r.blocks == 0 {
			need := blocksFor(p, r.promptTokens+r.maxTokens)
			if need > p.KVBlocks {
				s.waiting = s.waiting[1:]
				refuse(r, need, p)
				continue
			}
			if need > kv.free(p.KVBlocks) {
				break
			}
			kv.take(r, need)
			m.prefixQueries += float64(r.promptTokens)
		}
		s.waiting = s.waiting[1:]
		if r.remotePrefill {
			r.stage = stagePulling
			s.pulling++
			pulls = append(pulls, r)
		} else {
			r.stage = stageReady
			s.ready = append(s.ready, r)
		}
	}
	return pulls
}

// pulled: the KV transfer of r ended.
func (s *decodeScheduler) pulled(r *simRequest) {
	s.pulling--
	if r.stage == stagePulling {
		r.stage = stageReady
		s.ready = append(s.ready, r)
	}
}

// schedule starts a step with every running request (the ready ones join now). nil: none.
func (s *decodeScheduler) schedule(p perfParams, now time.Time) *decodeStep {
	for _, r := range s.ready {
		r.stage = stageRunning
		if r.scheduledAt.IsZero() {
			r.scheduledAt = now
		}
		s.running = append(s.running, r)
	}
	s.ready = nil
	if len(s.running) == 0 {
		return nil
	}
	s.step = &decodeStep{reqs: append([]*simRequest(nil), s.running...), dur: decodeStepTime(p, len(s.running))}
	return s.step
}

// complete ends the step in flight: every request in it gets one token; those that reached
// max_tokens are returned (still holding their KV blocks).
func (s *decodeScheduler) complete(m *vllmMetrics, now time.Time) []*simRequest {
	st := s.step
	s.step = nil
	if st == nil {
		return nil
	}
	var done []*simRequest
	iterTokens := 0
	for _, r := range st.reqs {
		if r.stage != stageRunning {
			continue // aborted meanwhile
		}
		prev := r.lastTokenAt
		r.token(now)
		iterTokens++
		if r.generated == 1 {
			m.firstToken(r, now)
			iterTokens += r.promptTokens
		} else {
			m.nextToken(prev, now)
		}
		if r.generated >= r.maxTokens {
			done = append(done, r)
		}
	}
	s.running = without(s.running, done)
	if iterTokens > 0 {
		m.iterationTokens.observe(float64(iterTokens))
	}
	return done
}

// refuse ends a request that can never fit this engine's KV cache (possible only when the
// capacity knob was lowered below max_model_len after start-up).
func refuse(r *simRequest, need int, p perfParams) {
	r.stage = stageAborted
	r.err = refusalMessage(r, need, p)
	r.signal()
}

func without(list, gone []*simRequest) []*simRequest {
	if len(gone) == 0 {
		return list
	}
	drop := map[*simRequest]bool{}
	for _, r := range gone {
		drop[r] = true
	}
	out := list[:0]
	for _, r := range list {
		if !drop[r] {
			out = append(out, r)
		}
	}
	return out
}

func remove(list []*simRequest, r *simRequest) []*simRequest {
	return without(list, []*simRequest{r})
}
