package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// A throttled or overloaded server is named as such, and a reply without
// a body (to a HEAD), whose code and message are both its status line,
// says that status once.
func TestClassifyBusy(t *testing.T) {
	for _, tc := range []struct {
		resp minio.ErrorResponse
		want string
	}{
		{minio.ErrorResponse{StatusCode: 503, Code: "503 Service Unavailable", Message: "503 Service Unavailable"},
			"503 Service Unavailable (the server is overloaded or throttling requests)"},
		{minio.ErrorResponse{StatusCode: 503, Code: "SlowDown", Message: "Please reduce your request rate."},
			"SlowDown: Please reduce your request rate. (the server is overloaded or throttling requests)"},
		{minio.ErrorResponse{StatusCode: 500, Code: "InternalError", Message: "We encountered an internal error."},
			"InternalError: We encountered an internal error."},
	} {
		got := classify(tc.resp).Error()
		if got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.resp, got, tc.want)
		}
		if strings.Count(got, tc.resp.Code) != 1 {
			t.Errorf("%q repeats %q", got, tc.resp.Code)
		}
	}
}

// Unreachable tells a refused connection and a host name that does not
// exist, as minio-go hands them on, from failures another try may cure.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, refused := net.Dial("tcp", addr)
	if refused == nil {
		t.Skipf("something listens on %s again", addr)
	}
	head := func(err error) error { return &url.Error{Op: "Head", URL: "http://" + addr + "/bucket/", Err: err} }
	noHost := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "s3.exmaple.com", IsNotFound: true}}
	dnsDown := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "s3.example.com", IsTemporary: true}}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{head(refused), true},
		{fmt.Errorf("open: %w", head(noHost)), true},
		{head(dnsDown), false},
		{head(errors.New("connection reset by peer")), false},
		{head(context.DeadlineExceeded), false},
		{minio.ErrorResponse{StatusCode: 503, Code: "SlowDown"}, false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
