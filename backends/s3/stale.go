package s3

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var _ backends.TempCleaner = (*S3)(nil)

// RemoveStaleTemp aborts the multipart uploads under the repository's prefix
// that were begun longer than age ago: those of a process killed in the
// middle of a large upload, whose parts the bucket would keep (and bill)
// forever. It returns how many it aborted. Only uploads of names a
// repository stores are touched (ownUpload): a repository at the root of a
// bucket, or with a prefix another tool also writes under, must not abort
// that tool's uploads in progress.
func (s *S3) RemoveStaleTemp(age time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cutoff := time.Now().Add(-age)
	n := 0
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			return n, mapErr("list incomplete uploads in", s.location, up.Err)
		}
		if up.Initiated.After(cutoff) || !ownUpload(strings.TrimPrefix(up.Key, s.prefix)) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			return n, fmt.Errorf("abort upload of %s: %w", up.Key, classify(err))
		}
		n++
	}
	return n, nil
}

// ownUpload reports whether name, relative to the repository's prefix, is
// one a repository uploads in parts: a pack, an index segment, a snapshot
// or a prune's deletion mark (33 bytes a pack: past the multipart
// threshold in a repository of millions of packs), stored in its folder
// under its ID (64 hex digits) as the last element ("data/ab/<id>",
// "index/<id>"). Config, keys and locks are too small to be uploaded in
// parts.
func ownUpload(name string) bool {
	folder, _, _ := strings.Cut(name, "/")
	switch folder {
	case "data", "tree", "index", "snapshots", "condemned":
	default:
		return false
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	if len(base) != 64 {
		return false
	}
	for _, c := range []byte(base) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
