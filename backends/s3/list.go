package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/backends"
)

// List lists the keys under the repository's prefix and prefix, recursively.
// Keys that are no valid object name (folder markers, others' files) are
// skipped. S3 lists only completed uploads.
func (s *S3) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if err := backends.CheckPrefix(prefix); err != nil {
		return err
	}
	// Canceling stops minio-go's listing goroutine when fn stops early.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objects := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.key(prefix), Recursive: true})
	for obj := range objects {
		if obj.Err != nil {
			if err := ctxErr(ctx, "list", prefix); err != nil {
				return err
			}
			return mapErr("list", prefix, obj.Err)
		}
		name, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || backends.CheckName(name) != nil {
			continue
		}
		if err := fn(backends.Info{Name: name, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	return ctxErr(ctx, "list", prefix)
}

// Remove asks whether the object exists, to report ErrNotFound, then
// deletes it.
func (s *S3) Remove(ctx context.Context, name string) error {
	if err := check(ctx, "remove", name); err != nil {
		return err
	}
	if _, err := s.stat(ctx, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.key(name), minio.RemoveObjectOptions{}); err != nil {
		if cerr := ctxErr(ctx, "remove", name); cerr != nil {
			return cerr
		}
		return mapErr("remove", name, err)
	}
	return nil
}
