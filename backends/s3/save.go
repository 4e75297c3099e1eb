package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/backends"
)

// Save uploads data under name in one PUT, or in parts when it is larger
// than the multipart threshold; either way the object appears whole or not
// at all.
func (s *S3) Save(ctx context.Context, name string, data []byte) error {
	_, err := s.SaveSum(ctx, name, data)
	return err
}

// SaveSum is Save returning the ETag the server gave the object: the MD5
// of the data it received and checked against Content-MD5 (for a multipart
// upload, the MD5 of the parts' MD5s and their count), as StatSum reports
// it (backends.SumSaver).
func (s *S3) SaveSum(ctx context.Context, name string, data []byte) (string, error) {
	if err := check(ctx, "save", name); err != nil {
		return "", err
	}
	etag, err := s.put(ctx, name, data, false, false)
	if err != nil {
		return "", s.putErr(ctx, "save", name, err)
	}
	return etag, nil
}

// Create is Save that fails with ErrExists when name exists: a Stat, then a
// conditional PUT (see the package doc for servers without conditional
// writes). The data goes up in one PUT, which is what the condition
// applies to; Create is for small objects.
func (s *S3) Create(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "create", name); err != nil {
		return err
	}
	for range 3 {
		_, err := s.stat(ctx, name)
		if err == nil {
			return fmt.Errorf("create %s: %w", name, backends.ErrExists)
		}
		if !errors.Is(err, backends.ErrNotFound) {
			return fmt.Errorf("create %s: %w", name, err)
		}
		conditional := !s.noConditional.Load()
		_, err = s.put(ctx, name, data, true, conditional)
		switch code := errorCode(err); {
		case err == nil:
			return nil
		case code == "PreconditionFailed":
			return fmt.Errorf("create %s: %w", name, backends.ErrExists)
		case code == "ConditionalRequestConflict":
			continue // another conditional write was in flight: look again
		case code == "NotImplemented" && conditional:
			s.noConditional.Store(true)
			continue
		default:
			return s.putErr(ctx, "create", name, err)
		}
	}
	return fmt.Errorf("create %s: concurrent writers kept conflicting", name)
}

// put uploads data, in one PUT if single, only if no object has the name
// if ifAbsent, holding one of the connection tokens meanwhile.
func (s *S3) put(ctx context.Context, name string, data []byte, single, ifAbsent bool) (string, error) {
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	// The body is protected by Content-MD5, which is a signed header, and
	// every stored object is named by the hash of its bytes and sealed:
	// so no SHA-256 of the payload is computed for the signature
	// (UNSIGNED-PAYLOAD, as over HTTPS), which on plain HTTP would
	// otherwise cost a second pass over every byte on both ends.
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		SendContentMd5:       true,
		DisableContentSha256: true,
	}
	if s.multipart(len(data)) && !single {
		opts.PartSize = uint64(s.opts.PartSize)
	} else {
		opts.DisableMultipart = true
	}
	if ifAbsent {
		opts.SetMatchETagExcept("*")
	}
	info, err := s.client.PutObject(ctx, s.bucket, s.key(name), bytes.NewReader(data), int64(len(data)), opts)
	return strings.ToLower(strings.Trim(info.ETag, `"`)), err
}

// putErr maps an upload's error, preferring the context's when it is done.
func (s *S3) putErr(ctx context.Context, op, name string, err error) error {
	if cerr := ctxErr(ctx, op, name); cerr != nil {
		return cerr
	}
	return mapErr(op, name, err)
}

// multipart reports whether Save uploads n bytes in parts.
func (s *S3) multipart(n int) bool { return int64(n) > s.opts.MultipartThreshold }

// Sum returns the ETag that Save gives an object holding data: the hex MD5
// of the data for one PUT, and for a multipart upload the MD5 of the parts'
// MD5s followed by "-" and the number of parts.
func (s *S3) Sum(data []byte) string {
	if !s.multipart(len(data)) {
		sum := md5.Sum(data)
		return hex.EncodeToString(sum[:])
	}
	var sums []byte
	parts := 0
	for off := 0; off < len(data); off += int(s.opts.PartSize) {
		part := data[off:min(off+int(s.opts.PartSize), len(data))]
		sum := md5.Sum(part)
		sums = append(sums, sum[:]...)
		parts++
	}
	sum := md5.Sum(sums)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), parts)
}
