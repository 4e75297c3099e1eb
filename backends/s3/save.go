package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/backends"
)

// crc32cHeader carries an upload's CRC32C, which S3 checks before it
// stores anything (answering BadDigest on a mismatch) and then keeps with
// the object.
const crc32cHeader = "x-amz-checksum-crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c returns data's CRC32C as S3 writes it: big-endian, in base64.
func crc32c(data []byte) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.Checksum(data, castagnoli))
	return base64.StdEncoding.EncodeToString(b[:])
}

// Save uploads data under name in one PUT, or in parts when it is larger
// than the multipart threshold; either way the object appears whole or not
// at all.
func (s *S3) Save(ctx context.Context, name string, data []byte) error {
	_, err := s.SaveSum(ctx, name, data)
	return err
}

// SaveSum is Save returning the checksum the server kept for the object,
// after it checked the bytes it received against the one sent along (see
// Sum), as StatSum reports it (backends.SumSaver).
func (s *S3) SaveSum(ctx context.Context, name string, data []byte) (string, error) {
	if err := check(ctx, "save", name); err != nil {
		return "", err
	}
	sum, err := s.put(ctx, name, data, false, false)
	if err != nil {
		return "", s.putErr(ctx, "save", name, err)
	}
	return sum, nil
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
// if ifAbsent, holding one of the connection tokens meanwhile. It returns
// the object's checksum in Sum's terms.
func (s *S3) put(ctx context.Context, name string, data []byte, single, ifAbsent bool) (string, error) {
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if s.multipart(len(data)) && !single || s.md5Only.Load() {
		return s.putMD5(ctx, name, data, single, ifAbsent)
	}
	sum, err := s.putCRC32C(ctx, name, data, ifAbsent)
	code := errorCode(err)
	switch {
	case err == nil && sum != "":
		return sum, nil
	case err == nil:
		// Stored, but the server did not say it checked the checksum:
		// it ignores the header. Store the object again, checked by
		// Content-MD5 (a Create owns the object now), and keep to
		// Content-MD5 from now on.
		s.md5Only.Store(true)
		return s.putMD5(ctx, name, data, single, false)
	case code == "NotImplemented" && ifAbsent:
		return "", err // the condition, most likely: Create sees to it
	case code == "NotImplemented" || code == "InvalidArgument" || code == "InvalidRequest":
		// A server that does not know the checksum header may refuse
		// it: if Content-MD5 is welcome, keep to it.
		sum, err := s.putMD5(ctx, name, data, single, ifAbsent)
		if err == nil {
			s.md5Only.Store(true)
		}
		return sum, err
	}
	return "", err
}

// putCRC32C uploads data in one PUT with its CRC32C. It returns the
// checksum in Sum's terms when the server confirmed it, "" when the server
// did not say.
func (s *S3) putCRC32C(ctx context.Context, name string, data []byte, ifAbsent bool) (string, error) {
	sum := crc32c(data)
	// The body is protected by the checksum, which is a signed header,
	// and every stored object is named by the hash of its bytes and
	// sealed: so no SHA-256 of the payload is computed for the signature
	// (UNSIGNED-PAYLOAD, as over HTTPS), which on plain HTTP would
	// otherwise cost a second pass over every byte on both ends. The
	// checksum goes as a header, not as the trailer of an aws-chunked
	// body as minio-go's Checksum option sends it, which would cost a
	// chunk encoding on both ends.
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		DisableContentSha256: true,
		UserMetadata:         map[string]string{crc32cHeader: sum},
	}
	if ifAbsent {
		opts.SetMatchETagExcept("*")
	}
	info, err := s.core.PutObject(ctx, s.bucket, s.key(name), bytes.NewReader(data), int64(len(data)), "", "", opts)
	switch {
	case err != nil:
		return "", err
	case info.ChecksumCRC32C == "":
		return "", nil
	case info.ChecksumCRC32C != sum:
		// Not what S3 does (it refuses a body that does not match):
		// treat it as a damaged upload, which another try may cure.
		return "", minio.ErrorResponse{Code: "BadDigest", StatusCode: 400,
			Message: fmt.Sprintf("the server kept CRC32C %s for a body sent with %s", info.ChecksumCRC32C, sum)}
	}
	return "crc32c:" + sum, nil
}

// putMD5 uploads data with Content-MD5, in parts if it is large and not
// single.
func (s *S3) putMD5(ctx context.Context, name string, data []byte, single, ifAbsent bool) (string, error) {
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		SendContentMd5:       true,
		DisableContentSha256: true, // as in putCRC32C
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

// sumsCRC32C reports whether an object of n bytes is uploaded, and so
// checked, with its CRC32C rather than with Content-MD5.
func (s *S3) sumsCRC32C(n int64) bool {
	return n <= s.opts.MultipartThreshold && !s.md5Only.Load()
}

// Sum returns the checksum that Save gives an object holding data: for
// one PUT "crc32c:" and the CRC32C in base64, as S3 keeps it; for a
// multipart upload, or on a server that does not check CRC32C, the ETag:
// the hex MD5 of the data, or for a multipart upload the MD5 of the
// parts' MD5s followed by "-" and the number of parts.
func (s *S3) Sum(data []byte) string {
	if s.sumsCRC32C(int64(len(data))) {
		return "crc32c:" + crc32c(data)
	}
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
