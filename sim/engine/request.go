package main

import "time"

// A request inside the simulated engine, from arrival to its last token. Its fields change only
// under the engine core's lock; the HTTP handler reads them there after a signal on notify.
type simRequest struct {
	id            string
	promptTokens  int
	maxTokens     int
	remotePrefill bool // a decode in PD: the prompt's KV comes from a prefill (pulled first)

	arrival      time.Time
	scheduledAt  time.Time // first admitted to a batch (vLLM's SCHEDULED event)
	firstTokenAt time.Time
	lastTokenAt  time.Time

	prefilled int // prompt tokens computed so far (chunked prefill)
	generated int
	blocks    int // KV blocks held
	stage     reqStage
	err       string // refused: the 400 message

	notify chan struct{} // capacity 1: "something changed"
}

type reqStage int

const (
	stagePrefillWaiting reqStage = iota
	stagePrefilling
	stageDecodeWaiting
	stagePulling // KV transfer from the prefill in flight
	stageReady   // KV here, joins the running batch at the next step
	stageRunning
	stageDone
	stageAborted
)

func newRequest(id string, promptTokens, maxTokens int, remotePrefill bool, now time.Time) *simRequest {
	return &simRequest{id: id, promptTokens: promptTokens, maxTokens: maxTokens, remotePrefill: remotePrefill,
		arrival: now, notify: make(chan struct{}, 1)}
}

func (r *simRequest) signal() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *simRequest) finished() bool { return r.stage == stageDone || r.stage == stageAborted }

// token records one generated token at `now`.
func (r *simRequest) token(now time.Time) {
	r.generated++
	if r.generated == 1 {
		r.firstTokenAt = now
	}
	r.lastTokenAt = now
}

// kvPool is the KV cache of one engine in blocks.
type kvPool struct {
	used int
}

func (k *kvPool) free(total int) int { return max(total-k.used, 0) }

func (k *kvPool) take(r *simRequest, blocks int) {
	k.used += blocks
	r.blocks += blocks
}

func (k *kvPool) release(r *simRequest) {
	k.used -= r.blocks
	r.blocks = 0
}
