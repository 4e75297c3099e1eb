package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/repo/ingest"
)

// routes serves the control socket's API (see api.go).
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathInfo, d.handleInfo)
	// Status tells how the sources ran, not what they hold: any caller
	// allowed on the socket may ask without a password (one given is
	// checked all the same).
	mux.HandleFunc("GET "+pathStatus, d.authorized(true, d.handleStatus))
	mux.HandleFunc("POST "+pathRun, d.authorized(false, d.handleRun))
	mux.HandleFunc("POST "+pathIngest, d.authorized(false, d.handleIngest))
	mux.HandleFunc("GET "+pathSnapshots, d.authorized(false, d.handleSnapshots))
	mux.HandleFunc("GET "+pathAuth, d.authorized(false, d.handleAuth))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if d.stopping.Load() {
			writeError(w, http.StatusServiceUnavailable, exitFailure, errStopping.Error())
			return
		}
		mux.ServeHTTP(w, req)
	})
}

func (d *Daemon) info() Info {
	cfg := d.config()
	return Info{Repository: d.loc, RepositoryID: d.r.Config().ID, Host: cfg.Host, Version: d.deps.Version, PID: os.Getpid(), UID: os.Getuid()}
}

func (d *Daemon) handleInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.info())
}

func (d *Daemon) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := Status{Info: d.info()}
	st.Sources, st.Jobs = d.runner.status(d.config())
	if st.Sources == nil {
		st.Sources = []SourceStatus{}
	}
	st.Ingests = d.runningIngests()
	writeJSON(w, http.StatusOK, st)
}

func (d *Daemon) handleRun(w http.ResponseWriter, req *http.Request) {
	var rr RunRequest
	if err := json.NewDecoder(req.Body).Decode(&rr); err != nil {
		writeError(w, http.StatusBadRequest, exitFailure, "bad run request: "+err.Error())
		return
	}
	stream := rr.Wait && rr.Stream
	// A streamed answer: its header goes out once the run was accepted;
	// nothing is written after the handler returns (it waits for q.run).
	// The run's callbacks only queue lines: a client that stops reading
	// loses lines, never holds up the run (see lineQueue).
	rc := http.NewResponseController(w)
	q := newLineQueue(streamQueueLen, func(n int) []byte {
		return ndjson(RunEvent{Type: EventWarn, Message: droppedMessage(n)})
	})
	var wt *watch
	if stream {
		wt = &watch{warn: func(path, msg string) { q.put(ndjson(RunEvent{Type: EventWarn, Path: path, Message: msg}), true) }}
		if rr.Notices {
			wt.notice = func(path, msg string) { q.put(ndjson(RunEvent{Type: EventNotice, Path: path, Message: msg}), true) }
		}
	}
	ch, err := d.runner.requestWatch(rr.Source, wt)
	switch {
	case errors.Is(err, errUnknownSource):
		writeError(w, http.StatusNotFound, exitFailure, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, exitFailure, err.Error())
		return
	}
	d.logf("source %s: run requested over the socket", rr.Source)
	if !rr.Wait {
		writeJSON(w, http.StatusAccepted, struct {
			Queued bool `json:"queued"`
		}{true})
		return
	}
	if !stream {
		select {
		case res := <-ch:
			writeJSON(w, http.StatusOK, res)
		case <-req.Context().Done():
			// The client left; the run goes on.
		}
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	q.start(w, rc)
	select {
	case res := <-ch:
		q.end(ndjson(RunEvent{Type: EventResult, Result: &res}), rc)
		select {
		case <-q.done:
		case <-req.Context().Done():
			q.stop(rc)
		}
	case <-req.Context().Done():
		// The client left; the run goes on.
		q.stop(rc)
	}
}

func (d *Daemon) handleSnapshots(w http.ResponseWriter, req *http.Request) {
	var warnings []string
	snaps, err := d.r.Snapshots(req.Context(), func(err error) { warnings = append(warnings, err.Error()) })
	if err != nil {
		writeError(w, http.StatusInternalServerError, d.deps.ExitCode(err), err.Error())
		return
	}
	l := SnapshotList{Snapshots: make([]SnapshotItem, 0, len(snaps)), Warnings: warnings}
	for _, sn := range snaps {
		l.Snapshots = append(l.Snapshots, SnapshotItem{ID: sn.ID.String(), Snapshot: sn})
	}
	writeJSON(w, http.StatusOK, l)
}

// handleIngest runs an ingest a client asked for, streaming its events
// back as JSON lines while (with stdin) reading the client's stream. It
// counts as running work from the moment the request arrives: a SIGTERM
// lets it finish, however slowly its stream comes, for up to
// stop_timeout.
func (d *Daemon) handleIngest(w http.ResponseWriter, req *http.Request) {
	if err := d.begin(); err != nil {
		writeError(w, http.StatusServiceUnavailable, exitFailure, err.Error())
		return
	}
	defer d.end()
	rc := http.NewResponseController(w)
	// Once the daemon aborts its work, a read waiting for the client's
	// stream ends at once instead of when the client sends more.
	stopRead := context.AfterFunc(d.work, func() { rc.SetReadDeadline(time.Now()) })
	defer stopRead()

	body := bufio.NewReaderSize(req.Body, 256<<10)
	line, err := body.ReadBytes('\n')
	var ir IngestRequest
	if err == nil {
		// A field this daemon does not know is an option it would
		// ignore (the client is newer): refused, not dropped.
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&ir); err != nil && strings.Contains(err.Error(), "unknown field") {
			err = fmt.Errorf("%w (the daemon runs an older cairn than this client: restart it, or ingest with --no-daemon)", err)
		}
	}
	if err != nil && d.work.Err() != nil {
		writeError(w, http.StatusServiceUnavailable, exitFailure, "aborted: the daemon is stopping; no snapshot written")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, exitFailure, "bad ingest request: "+err.Error())
		return
	}
	// The daemon reads paths with its own rights: only a caller with
	// those rights (root, or the daemon's own user) may name them.
	// Anyone allowed on the socket may send a stream.
	p, _ := req.Context().Value(peerKey{}).(peer)
	if len(ir.Paths) > 0 && p.uid != 0 && p.uid != os.Getuid() {
		writeError(w, http.StatusForbidden, exitFailure, fmt.Sprintf("uid %d may not have the daemon read paths with its rights (uid %d): "+
			"ingest them with --no-daemon, or send a stream with --stdin", p.uid, os.Getuid()))
		return
	}
	if ir.Source == "" {
		// What ingest records: the log and the status name it too.
		ir.Source = ingest.DefaultSource
	}
	defer d.trackIngest(IngestStatus{What: ingestWhat(ir), Source: ir.Source, Start: time.Now().Round(0), UID: p.uid})()
	// Events go out while the stream still comes in.
	rc.EnableFullDuplex()
	// One ingest per connection: the stream may be left unread after a
	// failure, so the connection cannot carry another request.
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.Flush()

	// The ingest's callbacks only queue lines: a client that stops
	// reading loses lines (its warnings go to the daemon log instead),
	// never holds up the ingest and the repository lock it holds.
	q := newLineQueue(streamQueueLen, func(n int) []byte {
		return ndjson(IngestEvent{Type: EventWarn, Message: droppedMessage(n)})
	})
	q.start(w, rc)
	send := func(ev IngestEvent) {
		if q.put(ndjson(ev), ev.Type != EventProgress) || ev.Type == EventProgress {
			return
		}
		d.logf("ingest %s: not shown to the client: %s: %s: %s", ingestWhat(ir), ev.Type, ev.Path, ev.Message)
	}
	last := func(ev IngestEvent) {
		q.end(ndjson(ev), rc)
		<-q.done
	}
	ctx, cancel := d.workContext(req.Context())
	defer cancel()
	res, err := d.clientIngest(ctx, ir, body, send)
	if err != nil {
		code := d.deps.ExitCode(err)
		if d.work.Err() != nil {
			// However the abort showed (an interrupted ingest, a read
			// of the stream cut short).
			err = errors.New("aborted: the daemon is stopping; no snapshot written")
			code = exitFailure
		}
		last(IngestEvent{Type: EventError, Message: err.Error(), Code: code})
	} else {
		sn := res.Snapshot
		ev := IngestEvent{Type: EventSummary, Skipped: res.Skipped, Summary: sn.Summary}
		if !res.Skipped {
			ev.SnapshotID = sn.ID.String()
		}
		if sn.Parent != nil {
			ev.Parent = sn.Parent.String()
		}
		last(ev)
	}
	// Read what is left of a stream the ingest stopped reading (for a
	// while), so that the connection is not reset under the answer
	// before the client has read it. Not once the daemon aborts its
	// work: it is stopping.
	if ir.Stdin && d.work.Err() == nil {
		rc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	}
}

// ingestWhat describes a client ingest for the log and status.
func ingestWhat(ir IngestRequest) string {
	if ir.Stdin {
		return "a stream as " + ir.StdinName
	}
	return plural(len(ir.Paths), "path")
}

// trackIngest lists a client ingest in the status until the returned
// function is called.
func (d *Daemon) trackIngest(st IngestStatus) func() {
	d.ingestsMu.Lock()
	defer d.ingestsMu.Unlock()
	if d.ingests == nil {
		d.ingests = map[*IngestStatus]bool{}
	}
	p := &st
	d.ingests[p] = true
	return func() {
		d.ingestsMu.Lock()
		defer d.ingestsMu.Unlock()
		delete(d.ingests, p)
	}
}

// runningIngests lists the client ingests in progress, oldest first.
func (d *Daemon) runningIngests() []IngestStatus {
	d.ingestsMu.Lock()
	defer d.ingestsMu.Unlock()
	out := make([]IngestStatus, 0, len(d.ingests))
	for p := range d.ingests {
		out = append(out, *p)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Start.Before(out[b].Start) })
	return out
}

// clientIngest is one ingest asked for over the socket.
func (d *Daemon) clientIngest(ctx context.Context, ir IngestRequest, body *bufio.Reader, send func(IngestEvent)) (*ingest.Result, error) {
	opt := ingest.Options{Paths: ir.Paths, Excludes: ir.Excludes, IExcludes: ir.IExcludes, ExcludeCaches: ir.ExcludeCaches,
		ExcludeIfPresent: ir.ExcludeIfPresent, ExcludeLargerThan: ir.ExcludeLargerThan, Force: ir.Force, OneFileSystem: ir.OneFileSystem,
		Parent: ir.Parent, IgnoreInode: ir.IgnoreInode, IgnoreCtime: ir.IgnoreCtime, SkipIfUnchanged: ir.SkipIfUnchanged, SetPath: ir.SetPath,
		Host: ir.Host, Source: ir.Source, Tags: ir.Tags, Time: ir.Time, Version: d.deps.Version}
	if opt.Host == "" {
		// Without --host, the host the daemon's sources record (the
		// config's host): one machine, one host in the repository.
		opt.Host = d.config().Host
	}
	opt.Warn = func(path string, err error) {
		send(IngestEvent{Type: EventWarn, Path: path, Message: err.Error()})
	}
	opt.Notice = func(path, msg string) {
		send(IngestEvent{Type: EventNotice, Path: path, Message: msg})
	}
	if ir.Progress {
		opt.Progress = func(p ingest.Progress) { send(IngestEvent{Type: EventProgress, Progress: &p}) }
	}
	var stream *frameReader
	if ir.Stdin {
		stream = &frameReader{r: body}
		opt.Stdin, opt.StdinName = stream, ir.StdinName
		// The stream is the file of the user who sent it (mode 0600),
		// not the daemon's: on the daemon's shared mount, that user
		// reads it, and no other.
		if p, ok := ctx.Value(peerKey{}).(peer); ok && p.err == nil && p.uid >= 0 && p.gid >= 0 {
			opt.StdinOwner = &ingest.Owner{UID: uint32(p.uid), GID: uint32(p.gid)}
		}
		opt.BeforeCommit = func() error {
			if stream.end == nil {
				return errCutOff
			}
			if stream.end.Error != "" {
				return errors.New(stream.end.Error)
			}
			return nil
		}
	}
	d.logf("client ingest of %s (source %q) over the socket", ingestWhat(ir), ir.Source)
	start := time.Now()

	d.runner.excl.RLock()
	defer d.runner.excl.RUnlock()
	lock, err := d.r.Lock(ctx, false, "ingest")
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res, err := ingest.Run(lock.Context(), d.r, opt)
	if err != nil {
		if errors.Is(err, ingest.ErrInterrupted) && ctx.Err() == nil && lock.Context().Err() != nil {
			return nil, fmt.Errorf("lock lost: %w", lock.Check())
		}
		d.logf("%sclient ingest failed after %.1fs: %v", Level(LevelErr), time.Since(start).Seconds(), err)
		return nil, err
	}
	sn := res.Snapshot
	host := sn.Host
	rr := RunResult{Source: sn.Source, Start: start.Round(0), End: time.Now().Round(0), Outcome: OutcomeSuccess}
	// As a source's run says it: the journal is where a partial client
	// ingest is seen, not only the client's own output.
	unreadable := ""
	if res.Unreadable == 1 {
		unreadable = ", but 1 path could not be read"
	} else if res.Unreadable > 1 {
		unreadable = fmt.Sprintf(", but %d paths could not be read", res.Unreadable)
	}
	if res.Skipped {
		d.logf("client ingest: nothing changed since snapshot %s, none written (%.1fs)%s", sn.Parent.Short(), time.Since(start).Seconds(), unreadable)
		rr.Skipped = true
	} else {
		d.logf("client ingest: snapshot %s saved in %.1fs%s", sn.ID.Short(), time.Since(start).Seconds(), unreadable)
		d.committed()
		rr.SnapshotID, rr.SnapshotTime = sn.ID.String(), sn.Time
	}
	if res.Unreadable > 0 {
		rr.Outcome, rr.ExitCode, rr.Unreadable = OutcomePartial, exitPartial, res.Unreadable
	}
	if s := sn.Summary; s != nil {
		rr.AddedBytes, rr.Files, rr.Bytes = s.DataAdded, s.TotalFiles, s.TotalBytes
	}
	rr.Duration = rr.End.Sub(rr.Start).Seconds()
	d.metrics.backup(host, rr)
	return res, nil
}
