package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// A client that stops reading a streamed run (suspended, piped into a
// pager) must not hold up the run: the run ends, another client waiting
// on it gets its result, and the stalled client, once it reads again, is
// told how many lines it missed and still gets the result.
func TestStalledStreamDoesNotBlockRun(t *testing.T) {
	cfg := &Config{Concurrency: 1, Sources: []Source{{Name: "gate"}, {Name: "s"}}}
	d, _ := newTestDaemon(t, cfg)
	gate := make(chan struct{})
	const warnings = 100000
	msg := strings.Repeat("x", 200)
	d.runner.runFn = func(kind jobKind, name string, src Source, w *watch) RunResult {
		if name == "gate" {
			<-gate
		} else {
			for i := range warnings {
				w.onWarn(fmt.Sprintf("/f%d", i), msg)
			}
		}
		return RunResult{Source: name, Outcome: OutcomePartial, ExitCode: 3}
	}
	d.runner.start()
	c := serveAs(t, d, os.Getuid())

	// The gate run takes the only slot: both clients below wait on the
	// same queued run of s.
	if _, err := c.Run(context.Background(), "gate", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	waiters := func() int {
		d.runner.mu.Lock()
		defer d.runner.mu.Unlock()
		if j := d.runner.jobs["s"]; j != nil {
			return len(j.waiters)
		}
		return 0
	}
	// The stalled client: sends its request, never reads.
	conn, err := dialUnix(context.Background(), "unix", c.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body, _ := json.Marshal(RunRequest{Source: "s", Wait: true, Stream: true, Notices: true})
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: cairn\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", pathRun, len(body), body)
	for deadline := time.Now().Add(10 * time.Second); waiters() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client's run request never arrived")
		}
	}

	type answer struct {
		res   *RunResult
		warns int
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		var a answer
		a.res, a.err = c.Run(context.Background(), "s", true, func(string, string) { a.warns++ }, nil)
		got <- a
	}()
	for deadline := time.Now().Add(10 * time.Second); waiters() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reading client's run request never arrived")
		}
	}
	close(gate)

	select {
	case a := <-got:
		if a.err != nil || a.res == nil || a.res.Source != "s" || a.res.Outcome != OutcomePartial {
			t.Fatalf("reading client: %+v, %v", a.res, a.err)
		}
		if a.warns == 0 {
			t.Fatal("reading client heard no warnings")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the run of s did not end: a client that does not read holds it up")
	}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Sources {
		if s.Name == "s" && (s.LastRun == nil || s.Running || s.Queued) {
			t.Fatalf("status of s: %+v", s)
		}
	}

	// The stalled client reads at last: some warnings, one line telling
	// of those dropped, then the result.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	var seen, dropped int
	var res *RunResult
	for res == nil {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stalled client: %v after %d warnings", err, seen)
		}
		var ev RunEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		switch {
		case ev.Type == EventResult:
			res = ev.Result
		case ev.Type == EventWarn && ev.Path == "":
			var n int
			if _, err := fmt.Sscanf(ev.Message, "%d more", &n); err != nil {
				t.Fatalf("drop line %q: %v", ev.Message, err)
			}
			dropped += n
		case ev.Type == EventWarn:
			seen++
		}
	}
	if res.Source != "s" || dropped == 0 || seen+dropped != warnings {
		t.Fatalf("stalled client: result %+v, %d warnings seen, %d dropped; want %d in all", res, seen, dropped, warnings)
	}
}
