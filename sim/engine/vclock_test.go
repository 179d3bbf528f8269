package main

import (
	"container/heap"
	"fmt"
	"sort"
	"time"
)

// vsim drives an engineCore in virtual time: the same step functions the real loops call
// (prefillStart/End, decodeStart/End, pullEnd), with a clock that jumps from event to event. A
// minute of engine time takes milliseconds and every number is exact.
type vsim struct {
	t0, t            time.Time
	c                *engineCore
	events           eventQueue
	seq              int
	preBusy, decBusy bool
}

func testParams() perfParams {
	return perfParams{
		TimeScale: 1, PrefillTokensPerS: defPrefillTokensPerS, PrefillStep: ms(defPrefillStepMs),
		DecodeStep: ms(defDecodeStepMs), DecodePerSeq: ms(defDecodePerSeqMs),
		KVBytesPerToken: defKVBytesPerToken, KVLinkBytesPerS: defKVLinkGBps * 1e9, KVTransferBase: ms(defKVTransferMs),
		BlockSize: defBlockSize, KVBlocks: 2148, MaxBatchedTokens: defMaxBatchedTokens, MaxNumSeqs: defMaxNumSeqs,
	}
}

func newVsim(p perfParams) *vsim {
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	v := &vsim{t0: t0, t: t0}
	v.c = newEngineCore(func() perfParams { return p }, newVllmMetrics("deepseek", 0, 16384, nil, t0))
	v.c.now = func() time.Time { return v.t }
	return v
}

type event struct {
	at  time.Time
	seq int
	f   func()
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at.Before(q[j].at) || q[i].at.Equal(q[j].at) && q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// at runs f at t0+d.
func (v *vsim) at(d time.Duration, f func()) {
	v.seq++
	heap.Push(&v.events, event{v.t0.Add(d), v.seq, f})
}

func (v *vsim) after(d time.Duration, f func()) { v.at(v.t.Sub(v.t0)+d, f) }

// arrive submits a request at t0+d.
func (v *vsim) arrive(d time.Duration, id string, prompt, maxTokens int, remote bool) *simRequest {
	r := newRequest(id, prompt, maxTokens, remote, time.Time{})
	v.at(d, func() {
		r.arrival = v.t
		if msg := v.c.submit(r); msg != "" {
			r.stage, r.err = stageAborted, msg
		}
	})
	return r
}

// kick starts a step on each idle stage, as the loops do when woken.
func (v *vsim) kick() {
	if !v.preBusy {
		if _, d, ok := v.c.prefillStart(v.t); ok {
			v.preBusy = true
			v.after(d, func() { v.preBusy = false; v.c.prefillEnd(v.t) })
		}
	}
	if !v.decBusy {
		_, d, pulls, ok := v.c.decodeStart(v.t)
		for _, pl := range pulls {
			r := pl.r
			v.after(pl.d, func() { v.c.pullEnd(r) })
		}
		if ok {
			v.decBusy = true
			v.after(d, func() { v.decBusy = false; v.c.decodeEnd(v.t) })
		}
	}
}

// run processes events until none is left or `until` (from t0) is passed.
func (v *vsim) run(until time.Duration) {
	for v.events.Len() > 0 {
		e := heap.Pop(&v.events).(event)
		if e.at.Sub(v.t0) > until {
			heap.Push(&v.events, e)
			return
		}
		v.t = e.at
		e.f()
		// events at the same instant all happen before the stages look for work
		if v.events.Len() == 0 || v.events[0].at.After(v.t) {
			v.kick()
		}
	}
}

func ttft(r *simRequest) time.Duration { return r.firstTokenAt.Sub(r.arrival) }

func percentile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

func ids(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}
