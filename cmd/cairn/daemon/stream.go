package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// streamQueueLen is how many lines a streaming client may fall behind
// before further lines for it are dropped.
const streamQueueLen = 1024

// lineQueue decouples a run (or an ingest) from a client streaming its
// events: put never blocks, a goroutine of the client's own (run) writes
// the lines out. A backup never waits on a client that reads slowly or
// not at all: once max lines wait, further ones are dropped and counted,
// and the client is told how many with one line (dropped) before the
// next it gets. The final line (finish) is never dropped.
type lineQueue struct {
	mu      sync.Mutex
	lines   [][]byte
	max     int
	dropped int
	closed  bool // finished, or the client is gone: put drops silently
	final   bool // the last line is queued
	wake    chan struct{}
	done    chan struct{}
	// dropLine is the line telling of n lines dropped.
	dropLine func(n int) []byte
}

func newLineQueue(max int, dropLine func(n int) []byte) *lineQueue {
	return &lineQueue{max: max, dropLine: dropLine, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (q *lineQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// put queues b, or drops it when the queue is full (counting it, when
// count says so: progress lines are dropped without a word). It tells
// whether b was queued.
func (q *lineQueue) put(b []byte, count bool) bool {
	q.mu.Lock()
	ok := false
	switch {
	case q.closed:
	case len(q.lines) >= q.max:
		if count {
			q.dropped++
		}
	default:
		q.lines = append(q.lines, b)
		ok = true
	}
	q.mu.Unlock()
	q.poke()
	return ok
}

// finish queues the last line, whatever the queue holds.
func (q *lineQueue) finish(b []byte) {
	q.mu.Lock()
	if !q.closed {
		if q.dropped > 0 {
			q.lines = append(q.lines, q.dropLine(q.dropped))
			q.dropped = 0
		}
		q.lines = append(q.lines, b)
		q.closed, q.final = true, true
	}
	q.mu.Unlock()
	q.poke()
}

// abort drops whatever is queued and ends run once its current write
// returns.
func (q *lineQueue) abort() {
	q.mu.Lock()
	q.closed, q.final, q.lines = true, true, nil
	q.mu.Unlock()
	q.poke()
}

// run writes the queued lines with write until the last one is written,
// the queue is aborted, or a write fails; done is closed then.
func (q *lineQueue) run(write func([]byte) error) {
	defer close(q.done)
	for {
		q.mu.Lock()
		lines, n, final := q.lines, q.dropped, q.final
		q.lines, q.dropped = nil, 0
		q.mu.Unlock()
		if n > 0 {
			lines = append(lines, q.dropLine(n))
		}
		for _, b := range lines {
			if err := write(b); err != nil {
				q.abort()
				return
			}
		}
		if final && len(lines) == 0 {
			return
		}
		if final {
			continue // pick up what finish queued meanwhile, if anything
		}
		<-q.wake
	}
}

// streamResultTimeout is how long a streaming client has, once its run
// ended, to read the lines still queued for it and the result.
var streamResultTimeout = time.Minute

// ndjson is v as one line of JSON.
func ndjson(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, '\n')
}

// droppedMessage is the warning that tells a client n lines were not
// shown to it.
func droppedMessage(n int) string {
	return fmt.Sprintf("%d more warnings and notices not shown (this client read too slowly); see the daemon log", n)
}

// start writes the queued lines to the response w, each flushed at once,
// from a goroutine of the queue's own.
func (q *lineQueue) start(w http.ResponseWriter, rc *http.ResponseController) {
	go q.run(func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	})
}

// end queues the last line. It goes out once the client has read what
// came before, but a client that reads nothing more has only
// streamResultTimeout: done is closed by then.
func (q *lineQueue) end(b []byte, rc *http.ResponseController) {
	q.finish(b)
	rc.SetWriteDeadline(time.Now().Add(streamResultTimeout))
}

// stop drops what is queued, cuts short a write under way and waits for
// the writer: the client left.
func (q *lineQueue) stop(rc *http.ResponseController) {
	q.abort()
	rc.SetWriteDeadline(time.Now())
	<-q.done
}
