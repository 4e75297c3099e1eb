package daemon

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// The control socket speaks HTTP/1.1 with JSON bodies. Every path starts
// with /v1; a change that breaks clients gets /v2. An error is a JSON
// APIError with a 4xx or 5xx status.
//
//	GET  /v1/info       Info
//	GET  /v1/status     Status
//	POST /v1/run        RunRequest -> RunResult (202 Accepted when not waiting;
//	                    RunEvent lines when streaming)
//	POST /v1/ingest     IngestRequest line + framed stdin -> IngestEvent lines
//	GET  /v1/snapshots  SnapshotList
//	GET  /v1/auth       204 when the caller may use the daemon
//
// Every call but info and status needs the repository's password in the
// Cairn-Password header from callers other than root and the daemon's
// own uid; a password given is always checked (see PasswordHeader).
const (
	pathInfo      = "/v1/info"
	pathStatus    = "/v1/status"
	pathRun       = "/v1/run"
	pathIngest    = "/v1/ingest"
	pathSnapshots = "/v1/snapshots"
	pathAuth      = "/v1/auth"
)

// Exit codes as the CLI uses them (cmd/cairn/main.go), for run outcomes.
const (
	exitOK      = 0
	exitFailure = 1
	exitPartial = 3
	// exitWrongPassword answers a wrong password, as a direct command
	// exits.
	exitWrongPassword = 12
)

// Outcomes of a run, as status, metrics and after hooks name them.
const (
	OutcomeSuccess = "success"
	OutcomePartial = "partial" // snapshot saved, some files unreadable
	OutcomeFailure = "failure"
)

// APIError is the body of a failed call. Code is the exit code a CLI
// client exits with.
type APIError struct {
	Message string `json:"error"`
	Code    int    `json:"code"`
}

// Info says which repository a daemon serves.
type Info struct {
	// Repository is the location as configured; clients compare it with
	// theirs (see SameRepository).
	Repository   string `json:"repository"`
	RepositoryID string `json:"repository_id"`
	Host         string `json:"host"`
	Version      string `json:"version"`
	PID          int    `json:"pid"`
	// UID is the user the daemon runs as, whose rights it reads paths
	// with.
	UID int `json:"uid"`
}

// Status is every source's state, the scheduled check and prune, and the
// ingests clients asked for that are running.
type Status struct {
	Info
	Sources []SourceStatus `json:"sources"`
	Jobs    []SourceStatus `json:"jobs,omitempty"`
	Ingests []IngestStatus `json:"ingests,omitempty"`
}

// IngestStatus is an ingest a client asked for over the socket (cairn
// ingest through the daemon), from the moment its request arrived.
type IngestStatus struct {
	What   string    `json:"what"` // "a stream as NAME", "N paths"
	Source string    `json:"source,omitempty"`
	Start  time.Time `json:"start"`
	UID    int       `json:"uid"` // the caller's
}

// SourceStatus is one source (or job) as the daemon sees it now.
type SourceStatus struct {
	Name     string     `json:"name"`
	Schedule string     `json:"schedule,omitempty"`
	Running  bool       `json:"running"`
	Queued   bool       `json:"queued"`
	NextRun  *time.Time `json:"next_run,omitempty"`
	LastRun  *RunResult `json:"last_run,omitempty"`
	Failures int        `json:"failures"` // failed runs since the daemon started
	// Copies is the last copy into each of the source's copy_to, in
	// copy_to order (those not tried yet are left out).
	Copies []CopyStatus `json:"copies,omitempty"`
}

// CopyStatus is how the last copy of a source's snapshots into one copy
// destination ended, when the last that succeeded did, and how many
// failed since the daemon started.
type CopyStatus struct {
	CopyResult
	LastSuccess *time.Time `json:"last_success,omitempty"`
	Failures    int        `json:"failures"`
}

// CopyResult is how one copy of a source's snapshots into one copy
// destination ended. A failed copy does not fail the source's run; the
// next run tries again, and copies what this one did not.
type CopyResult struct {
	Destination string    `json:"destination"` // the copy's name
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Duration    float64   `json:"duration_seconds"`
	Outcome     string    `json:"outcome"` // success or failure
	Error       string    `json:"error,omitempty"`
	// Copied counts the snapshots copied, Failed those that could not be.
	Copied int `json:"snapshots_copied"`
	Failed int `json:"snapshots_failed"`
	// AddedBytes is the data the copies added to the destination
	// (before compression), StoredBytes what that takes there.
	AddedBytes  int64 `json:"added_bytes"`
	StoredBytes int64 `json:"added_bytes_stored"`
	// Removed counts the snapshots the source's retention forgot in the
	// destination (with apply_retention).
	Removed int `json:"snapshots_removed"`
}

// RunResult is how one run of a source ended.
type RunResult struct {
	Source     string    `json:"source"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Duration   float64   `json:"duration_seconds"`
	Outcome    string    `json:"outcome"`
	ExitCode   int       `json:"exit_code"`
	Error      string    `json:"error,omitempty"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	// Skipped: the ingest wrote no snapshot, as nothing changed since
	// the source's last (skip_if_unchanged).
	Skipped bool `json:"skipped,omitempty"`
	// SnapshotTime is the time recorded in the snapshot.
	SnapshotTime time.Time `json:"snapshot_time,omitzero"`
	AddedBytes   int64     `json:"added_bytes"`
	Files        int64     `json:"files"`
	Bytes        int64     `json:"bytes"`
	Unreadable   int64     `json:"files_unreadable"`
	// Removed counts the snapshots retention forgot after the run.
	Removed int `json:"snapshots_removed"`
	// Copies says how copying into each of the source's copy_to went,
	// after a run that saved a snapshot. They do not change Outcome.
	Copies []CopyResult `json:"copies,omitempty"`
}

// RunRequest asks for a configured source to run now.
type RunRequest struct {
	Source string `json:"source"`
	// Wait holds the answer until the run ends; otherwise the run is
	// queued (merged with one already queued) and the call returns.
	Wait bool `json:"wait"`
	// Stream (with Wait) answers with RunEvent lines: a warn line for
	// each path the run cannot read, as it goes, then the result line.
	Stream bool `json:"stream,omitempty"`
	// Notices (with Stream) adds a notice line for each path saved with
	// a time clamped. Only clients that ask get them: older ones read
	// any line of a type they do not know as the result. (Older daemons
	// ignore the field, and send none.)
	Notices bool `json:"notices,omitempty"`
}

// RunEvent is one line of a streamed run's answer: warn (and, when asked
// for, notice) lines, then one result line.
type RunEvent struct {
	Type    string     `json:"type"` // warn, notice, result
	Path    string     `json:"path,omitempty"`
	Message string     `json:"message,omitempty"`
	Result  *RunResult `json:"result,omitempty"`
}

// IngestRequest is the first line of an ingest call's body: what the CLI's
// ingest flags say, with paths made absolute and exclude files read by the
// client. With Stdin the rest of the body is the stream, framed (see
// writeFrame).
//
// Every field is omitted when unset, and a daemon refuses a
// request with a field it does not know (400, exit code 1) rather than
// ingest without the option: a client asking for an option only a newer
// daemon has fails and says so, and one that asks for none works with
// older daemons. (Daemons built before that refusal, with
// --exclude-larger-than and --force, ignored unknown fields.)
type IngestRequest struct {
	Paths             []string  `json:"paths,omitempty"`
	Excludes          []string  `json:"excludes,omitempty"`
	IExcludes         []string  `json:"iexcludes,omitempty"`
	ExcludeCaches     bool      `json:"exclude_caches,omitempty"`
	ExcludeIfPresent  []string  `json:"exclude_if_present,omitempty"`
	ExcludeLargerThan int64     `json:"exclude_larger_than,omitempty"`
	Force             bool      `json:"force,omitempty"`
	OneFileSystem     bool      `json:"one_file_system,omitempty"`
	Parent            string    `json:"parent,omitempty"` // a snapshot selector, resolved by the daemon
	IgnoreInode       bool      `json:"ignore_inode,omitempty"`
	IgnoreCtime       bool      `json:"ignore_ctime,omitempty"`
	SkipIfUnchanged   bool      `json:"skip_if_unchanged,omitempty"`
	SetPath           string    `json:"set_path,omitempty"` // ingest's --set-path
	Host              string    `json:"host,omitempty"`
	Source            string    `json:"source,omitempty"`
	Tags              []string  `json:"tags,omitempty"`
	Time              time.Time `json:"time,omitzero"`
	Stdin             bool      `json:"stdin,omitempty"`
	StdinName         string    `json:"stdin_name,omitempty"`
	Progress          bool      `json:"progress,omitempty"` // send progress events
}

// IngestEvent is one line of an ingest call's answer. The last line is a
// summary or an error.
type IngestEvent struct {
	Type     string           `json:"type"` // progress, warn, notice, summary, error
	Progress *ingest.Progress `json:"progress,omitempty"`
	// warn: the path that could not be read, and why; notice: a path
	// saved with a time clamped (ingest.Options.Notice), and which.
	Path    string `json:"path,omitempty"`
	Message string `json:"message,omitempty"`
	// summary: the snapshot written, or with Skipped none (nothing
	// changed since the parent, and the request said skip_if_unchanged);
	// Parent is the parent snapshot's ID, if any.
	SnapshotID string        `json:"snapshot_id,omitempty"`
	Skipped    bool          `json:"skipped,omitempty"`
	Parent     string        `json:"parent,omitempty"`
	Summary    *repo.Summary `json:"summary,omitempty"`
	// error: the exit code for Message.
	Code int `json:"code,omitempty"`
}

// Event types.
const (
	EventProgress = "progress"
	EventWarn     = "warn"
	EventNotice   = "notice" // a path saved with a time clamped; not an error
	EventSummary  = "summary"
	EventError    = "error"
	EventResult   = "result" // the end of a streamed run
)

// SnapshotList is every snapshot, oldest first, as repo.Snapshots lists
// them, with the warnings about those it skipped.
type SnapshotList struct {
	Snapshots []SnapshotItem `json:"snapshots"`
	Warnings  []string       `json:"warnings,omitempty"`
}

// SnapshotItem carries a snapshot with its ID (which repo.Snapshot does
// not marshal).
type SnapshotItem struct {
	ID string `json:"id"`
	*repo.Snapshot
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, APIError{Message: msg, Code: code})
}

// The stdin stream is sent in frames: a 4-byte big-endian length and that
// many bytes. A zero length ends the stream and is followed by one JSON
// line, StreamEnd, so that a client running --stdin-from-command can say
// the command failed and no snapshot must be written. A body that ends
// without it was cut off: the ingest fails.
type StreamEnd struct {
	Error string `json:"error,omitempty"`
}

const maxFrame = 1 << 20

// frameWriter frames what is written to it.
type frameWriter struct {
	w io.Writer
}

func (f *frameWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), maxFrame)
		var h [4]byte
		binary.BigEndian.PutUint32(h[:], uint32(c))
		if _, err := f.w.Write(h[:]); err != nil {
			return n, err
		}
		if _, err := f.w.Write(p[:c]); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// end closes the stream with its verdict.
func (f *frameWriter) end(e StreamEnd) error {
	b, _ := json.Marshal(e)
	_, err := f.w.Write(append(append([]byte{0, 0, 0, 0}, b...), '\n'))
	return err
}

// frameReader reads a framed stream; at its end it holds the verdict.
type frameReader struct {
	r    *bufio.Reader
	left int
	end  *StreamEnd
	err  error
}

var errCutOff = errors.New("the client's stream ended early")

func (f *frameReader) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	for f.left == 0 {
		var h [4]byte
		if _, err := io.ReadFull(f.r, h[:]); err != nil {
			f.err = fmt.Errorf("%w (%v)", errCutOff, err)
			return 0, f.err
		}
		f.left = int(binary.BigEndian.Uint32(h[:]))
		if f.left > maxFrame {
			f.err = fmt.Errorf("stream frame of %d bytes: too long", f.left)
			return 0, f.err
		}
		if f.left == 0 {
			line, err := f.r.ReadBytes('\n')
			var e StreamEnd
			if err == nil {
				err = json.Unmarshal(line, &e)
			}
			if err != nil {
				f.err = fmt.Errorf("%w (%v)", errCutOff, err)
				return 0, f.err
			}
			f.end, f.err = &e, io.EOF
			return 0, io.EOF
		}
	}
	n, err := f.r.Read(p[:min(len(p), f.left)])
	f.left -= n
	if err != nil && n == 0 {
		f.err = fmt.Errorf("%w (%v)", errCutOff, err)
		return 0, f.err
	}
	return n, nil
}
