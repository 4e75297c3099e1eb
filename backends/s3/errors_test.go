package s3

import (
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
