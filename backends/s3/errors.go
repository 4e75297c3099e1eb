package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/cairn-backup/cairn/backends"
)

// errorCode returns the S3 error code in err, or "".
func errorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// denied are the codes of refused credentials or permissions.
var denied = map[string]bool{
	"AccessDenied":          true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"TokenRefreshRequired":  true,
	"InvalidSecurity":       true,
	// versitygw's answer to an unknown access key (with status 404).
	"XAdminUserNotFound": true,
}

// transient4xx are client-error codes that another try may cure: a body
// damaged or cut short on the way, a conflict with a concurrent request.
// (RequestTimeTooSkewed is not one: it asks for a clock to be fixed.)
var transient4xx = map[string]bool{
	"BadDigest":                  true,
	"XAmzContentSHA256Mismatch":  true,
	"IncompleteBody":             true,
	"RequestTimeout":             true,
	"ConditionalRequestConflict": true,
	"OperationAborted":           true,
	"SlowDown":                   true,
	"TooManyRequests":            true,
}

// Unreachable reports whether err says that nothing is at the endpoint:
// the connection was refused, or the host's name does not exist. At the
// first request of opening a repository that is most often a mistyped or
// dead endpoint, not a server restarting; a failure of the name server
// itself (a timeout, SERVFAIL) is not one.
func Unreachable(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns) && dns.IsNotFound
}

// mapErr wraps err from an operation op on object name (may be "") in the
// vocabulary of package backends.
func mapErr(op, name string, err error) error {
	if name != "" {
		op += " " + name
	}
	return fmt.Errorf("%s: %w", op, classify(err))
}

// classify returns err wrapped with the backends sentinel its S3 error code
// means, if any.
func classify(err error) error {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		if errors.Is(err, context.DeadlineExceeded) {
			// net/http's "timeout awaiting response headers" says it
			// is a context.DeadlineExceeded, which would read as the
			// caller's own deadline and end its retries. Callers
			// look at their context before they classify: this is
			// a server slow to answer, which another try may cure.
			return fmt.Errorf("%v", err)
		}
		if badCertificate(err) {
			// Another try meets the same certificate.
			return fmt.Errorf("%w: %v (the server's TLS certificate is not trusted here: check the host name, or name the certificate of its authority in SSL_CERT_FILE)",
				backends.ErrPermanent, err)
		}
		if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			return fmt.Errorf("%w: %v (the server speaks plain HTTP: write the location as s3:http://...)", backends.ErrPermanent, err)
		}
		return err
	}
	switch {
	case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket" && !denied[resp.Code]:
		return backends.ErrNotFound
	case resp.Code == "InvalidRange":
		return backends.ErrRange
	case resp.Code == "RequestTimeTooSkewed":
		// A 403 like refused credentials, but the credentials are not
		// what is wrong.
		return fmt.Errorf("%w: %s: %s (this host's clock and the server's differ by more than S3 allows, 15 minutes: set this host's clock right)",
			backends.ErrPermanent, resp.Code, resp.Error())
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// AWS's answer to a request for a bucket of another region
		// (301 PermanentRedirect), which minio-go follows only when
		// it chose the region itself.
		where := "the server sends the request elsewhere: check the endpoint and the region (AWS_REGION)"
		if resp.Region != "" {
			where = fmt.Sprintf("the bucket is in region %s: set AWS_REGION=%s", resp.Region, resp.Region)
		}
		return fmt.Errorf("%w: %s (%s)", backends.ErrPermanent, resp.Error(), where)
	case denied[resp.Code] || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %s: %s (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy)",
			backends.ErrAccessDenied, resp.Code, resp.Error())
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && !transient4xx[resp.Code] &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: %s", backends.ErrPermanent, resp.Code, resp.Error())
	}
	busy := ""
	if resp.Code == "SlowDown" || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
		busy = " (the server is overloaded or throttling requests)"
	}
	if resp.Code == "" || strings.Contains(err.Error(), resp.Code) {
		// A reply without a body (to a HEAD) has its status as both
		// code and message: "503 Service Unavailable" once is enough.
		return fmt.Errorf("%w%s", err, busy)
	}
	return fmt.Errorf("%s: %w%s", resp.Code, err, busy)
}

// ctxErr returns ctx's error wrapped for op when ctx is done, so a request
// cut by cancellation reports that rather than a network error.
func ctxErr(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return nil
}

// badCertificate reports whether err is the refusal of the server's TLS
// certificate: an unknown authority, another host's name, an expired one.
func badCertificate(err error) bool {
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}
