package s3

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/backends"
)

// Load reads the range with one Range GET (bytes=0- for the whole object).
func (s *S3) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	var out []byte
	err := s.load(ctx, name, offset, length, func(n int64) []byte {
		out = make([]byte, n)
		return out
	})
	return out, err
}

// LoadInto reads len(buf) bytes at offset into buf, with Load's errors.
func (s *S3) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	return s.load(ctx, name, offset, int64(len(buf)), func(int64) []byte { return buf })
}

// load fetches the range and reads it into the buffer that alloc returns for
// the range's length. S3 answers a range that starts past the end with
// InvalidRange and one that runs past the end with fewer bytes; both are
// ErrRange here, except a read of nothing at the very end.
func (s *S3) load(ctx context.Context, name string, offset, length int64, alloc func(int64) []byte) error {
	if err := check(ctx, "load", name); err != nil {
		return err
	}
	rangeErr := func(size int64) error {
		return fmt.Errorf("load %s: %w: offset %d, length %d, size %d", name, backends.ErrRange, offset, length, size)
	}
	if offset < 0 || length > 0 && offset > math.MaxInt64-length {
		return rangeErr(-1)
	}
	// At the end of the object: only its size can tell an empty read
	// from one past the end.
	atEnd := func() error {
		fi, err := s.stat(ctx, name)
		if err != nil {
			return fmt.Errorf("load %s: %w", name, err)
		}
		if length < 0 && offset != fi.Size || length == 0 && offset > fi.Size || length > 0 {
			return rangeErr(fi.Size)
		}
		alloc(0)
		return nil
	}
	if length == 0 {
		return atEnd()
	}
	// A whole object is asked for as the range "bytes=0-" too: the
	// answer's Content-Range then tells the object's size, so that a
	// body cut short together with its Content-Length (by a broken proxy)
	// is an error to retry, not a shorter object. (An empty object has
	// no such range: InvalidRange, then its head, tell it is empty.)
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		opts.SetRange(offset, offset+length-1)
	default:
		opts.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	body, info, header, err := s.core.GetObject(ctx, s.bucket, s.key(name), opts)
	if err != nil {
		if cerr := ctxErr(ctx, "load", name); cerr != nil {
			return cerr
		}
		if errorCode(err) == "InvalidRange" {
			return atEnd()
		}
		return mapErr("load", name, err)
	}
	defer body.Close()
	// An answer without a Content-Length (chunked, or ended by closing
	// the connection, as some proxies send it) has info.Size -1: the
	// object's head then tells a whole object's size, so that a body cut
	// short is an error, not fewer bytes.
	size, ok := totalSize(header)
	if !ok && offset > 0 {
		// No Content-Range: the server ignored the Range and sent the
		// whole object from its first byte, not the range asked for.
		return fmt.Errorf("load %s: server sent the whole object for a range from %d", name, offset)
	}
	if !ok {
		size = info.Size // a whole object
		if size < 0 {
			fi, err := s.stat(ctx, name)
			if err != nil {
				return fmt.Errorf("load %s: %w", name, err)
			}
			size = fi.Size
		}
	}
	if length < 0 {
		length = size - offset
	} else if offset+length > size {
		return rangeErr(size)
	}
	if info.Size >= 0 && info.Size != length {
		return fmt.Errorf("load %s: server sent %d bytes for a range of %d", name, info.Size, length)
	}
	if _, err := io.ReadFull(body, alloc(length)); err != nil {
		if cerr := ctxErr(ctx, "load", name); cerr != nil {
			return cerr
		}
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// totalSize returns the object size in a ranged answer's Content-Range
// ("bytes 10-29/1000"), if there is one.
func totalSize(h http.Header) (int64, bool) {
	cr := h.Get("Content-Range")
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// Stat asks for the object's head.
func (s *S3) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	fi, err := s.stat(ctx, name)
	if err != nil {
		return backends.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return fi, nil
}

// StatSum is Stat with the object's checksum in Sum's terms: the CRC32C
// the server keeps for objects uploaded with one, else the ETag when it is
// the content's MD5 (not for objects encrypted with KMS or a customer key,
// whose ETags are not); "" when the server tells neither.
func (s *S3) StatSum(ctx context.Context, name string) (backends.Info, string, error) {
	if err := check(ctx, "stat", name); err != nil {
		return backends.Info{}, "", err
	}
	oi, err := s.statObject(ctx, name, true)
	if err != nil {
		return backends.Info{}, "", fmt.Errorf("stat %s: %w", name, err)
	}
	fi := backends.Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}
	if s.sumsCRC32C(oi.Size) {
		// A composite checksum ("...-3") is of parts, not of the data.
		if oi.ChecksumCRC32C == "" || strings.Contains(oi.ChecksumCRC32C, "-") {
			return fi, "", nil
		}
		return fi, "crc32c:" + oi.ChecksumCRC32C, nil
	}
	sse := oi.Metadata.Get("X-Amz-Server-Side-Encryption")
	if sse == "aws:kms" || sse == "aws:kms:dsse" || oi.Metadata.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return fi, "", nil
	}
	return fi, strings.ToLower(strings.Trim(oi.ETag, `"`)), nil
}

// stat describes a valid name, with errors not yet naming the operation.
func (s *S3) stat(ctx context.Context, name string) (backends.Info, error) {
	oi, err := s.statObject(ctx, name, false)
	if err != nil {
		return backends.Info{}, err
	}
	return backends.Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// statObject asks for the object's head, with the checksums the server keeps
// if sums.
func (s *S3) statObject(ctx context.Context, name string, sums bool) (minio.ObjectInfo, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, s.key(name), minio.StatObjectOptions{Checksum: sums})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return minio.ObjectInfo{}, cerr
		}
		return minio.ObjectInfo{}, classify(err)
	}
	return oi, nil
}
