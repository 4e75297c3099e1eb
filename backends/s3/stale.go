package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var _ backends.TempCleaner = (*S3)(nil)

// RemoveStaleTemp aborts the multipart uploads under the repository's prefix
// that were begun longer than age ago: those of a process killed in the
// middle of a large upload, whose parts the bucket would keep (and bill)
// forever. It returns how many it aborted.
func (s *S3) RemoveStaleTemp(age time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cutoff := time.Now().Add(-age)
	n := 0
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			return n, mapErr("list incomplete uploads in", s.location, up.Err)
		}
		if up.Initiated.After(cutoff) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			return n, fmt.Errorf("abort upload of %s: %w", up.Key, classify(err))
		}
		n++
	}
	return n, nil
}
