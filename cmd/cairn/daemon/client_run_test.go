package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
)

// A streamed run: the client asks for notices only when it has a notice
// func, hands warn and notice lines to theirs, and skips a line of a type
// it does not know (a newer daemon's) instead of taking it for the result.
func TestClientRunStreamsNotices(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := listenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	var got []RunRequest
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var rr RunRequest
		json.NewDecoder(req.Body).Decode(&rr)
		got = append(got, rr)
		enc := json.NewEncoder(w)
		enc.Encode(RunEvent{Type: EventWarn, Path: "/a", Message: "gone"})
		if rr.Notices {
			enc.Encode(RunEvent{Type: EventNotice, Path: "/b", Message: "clamped"})
		}
		enc.Encode(RunEvent{Type: "someday", Path: "/c", Message: "new"})
		enc.Encode(RunEvent{Type: EventResult, Result: &RunResult{Source: "s", Outcome: OutcomeSuccess}})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := NewClient(sock)
	var warns, notices []string
	res, err := c.Run(context.Background(), "s", true,
		func(p, m string) { warns = append(warns, p+": "+m) },
		func(p, m string) { notices = append(notices, p+": "+m) })
	if err != nil || res == nil || res.Source != "s" || res.Outcome != OutcomeSuccess {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if len(warns) != 1 || warns[0] != "/a: gone" || len(notices) != 1 || notices[0] != "/b: clamped" {
		t.Fatalf("warns %q, notices %q", warns, notices)
	}
	if !got[0].Stream || !got[0].Notices {
		t.Fatalf("request %+v: want stream and notices", got[0])
	}

	warns = nil
	if _, err := c.Run(context.Background(), "s", true, func(p, m string) { warns = append(warns, p) }, nil); err != nil {
		t.Fatal(err)
	}
	if !got[1].Stream || got[1].Notices || len(warns) != 1 {
		t.Fatalf("request %+v, warns %q: want stream without notices", got[1], warns)
	}
}
