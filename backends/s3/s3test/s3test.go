// Package s3test runs a real S3 server for tests: versitygw with its POSIX
// backend over a temporary folder, listening on a free loopback port, and
// keeping connections alive between requests as S3 services do (versitygw
// closes each one after its answer unless told otherwise).
//
//	srv := s3test.New(t) // installs versitygw once, starts it, makes a bucket
//	b, err := s3.Open(ctx, srv.Location("repo"), s3.Options{
//		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
//
// The binary is built once into the module's .tools folder by install.sh
// (which make test also runs), under a file lock so that test packages
// running in parallel do not build it twice. When the server cannot be
// installed or started, New fails the test if CI=true and skips it
// otherwise.
package s3test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	// CAFile, for a server started by NewTLS, is the PEM certificate of
	// the authority that signed the server's.
	CAFile string

	bin       string
	adminPort int      // with NewIAM: the admin API's port, else 0
	args      []string // how to start it again (Restart)
	dir       string
	pool      *x509.CertPool // with NewTLS: trusts its certificate
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *syncBuffer
}

// New installs (once) and starts a server with a bucket "cairn-test" for
// the duration of t, stopping it in t's cleanup. It fails t when the server
// cannot be had and CI=true, and skips t otherwise.
func New(t testing.TB) *Server {
	t.Helper()
	return newServer(t, false, false)
}

// NewTLS is New with a server answering HTTPS, with a certificate for
// 127.0.0.1, [::1] and localhost signed by a fresh authority whose
// certificate is in srv.CAFile (and in no trust store).
func NewTLS(t testing.TB) *Server {
	t.Helper()
	return newServer(t, true, false)
}

// NewIAM is New with versitygw's internal IAM, so that AddReadOnlyUser can
// add users besides the root one.
func NewIAM(t testing.TB) *Server {
	t.Helper()
	return newServer(t, false, true)
}

func newServer(t testing.TB, withTLS, withIAM bool) *Server {
	t.Helper()
	srv, err := start(context.Background(), t.TempDir(), withTLS, withIAM)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("S3 test server: %v", err)
		}
		t.Skipf("no S3 test server (%v); under CI=true this fails", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("versitygw output:\n%s", srv.log.String())
		}
		srv.Stop()
	})
	return srv
}

// Start installs the server if needed, runs it over the folder dir and
// makes the bucket "cairn-test". Stop it with Stop.
func Start(ctx context.Context, dir string) (*Server, error) {
	return start(ctx, dir, false, false)
}

func start(ctx context.Context, dir string, withTLS, withIAM bool) (*Server, error) {
	bin, err := Install()
	if err != nil {
		return nil, err
	}
	var tlsFiles *certFiles
	iamDir := ""
	if withTLS || withIAM {
		top := dir
		dir = filepath.Join(top, "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		if withTLS {
			if tlsFiles, err = makeCerts(filepath.Join(top, "tls")); err != nil {
				return nil, err
			}
		}
		if withIAM {
			iamDir = filepath.Join(top, "iam")
			if err := os.Mkdir(iamDir, 0o755); err != nil {
				return nil, err
			}
		}
	}
	var srv *Server
	for range 3 { // a free port may be taken again before the server binds it
		srv, err = run(bin, dir, tlsFiles, iamDir)
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := srv.makeBucket(ctx); err != nil {
		srv.Stop()
		return nil, err
	}
	return srv, nil
}

// Location returns the repository location of prefix in the bucket, or of
// the bucket's root when prefix is "".
func (s *Server) Location(prefix string) string {
	loc := "s3:" + s.Endpoint + "/" + s.Bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	return loc
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Relaunch starts a server stopped by Stop again, over the same folder on
// the same port, as a server that crashed and came back, and waits until it
// answers.
func (s *Server) Relaunch() error {
	return s.launch(30 * time.Second)
}

// Freeze stops the server's process (SIGSTOP) until Thaw: its kernel keeps
// the connections open and accepts new ones, but nothing is read or
// answered, as from a server that hangs.
func (s *Server) Freeze() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on.
func (s *Server) Thaw() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// run starts bin on a free port and waits until it answers HTTP.
func run(bin, dir string, tlsFiles *certFiles, iamDir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if tlsFiles != nil {
		scheme = "https"
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("%s://127.0.0.1:%d", scheme, port),
		Bucket:    "cairn-test",
		AccessKey: "cairntest",
		SecretKey: "cairntest-secret-key",
		Region:    "us-east-1",
		bin:       bin,
		log:       &syncBuffer{},
	}
	args := []string{"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--quiet", "--keep-alive"}
	if tlsFiles != nil {
		args = append(args, "--cert", tlsFiles.cert, "--key", tlsFiles.key)
		s.CAFile, s.pool = tlsFiles.ca, tlsFiles.pool
	}
	if iamDir != "" {
		if s.adminPort, err = freePort(); err != nil {
			return nil, err
		}
		args = append(args, "--iam-dir", iamDir, "--admin-port", fmt.Sprintf("127.0.0.1:%d", s.adminPort))
	}
	s.args, s.dir = args, dir
	if err := s.launch(30 * time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts the server's process with s.args and waits up to wait for
// it to answer HTTP.
func (s *Server) launch(wait time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	if s.pool != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}}
	}
	s.exited = make(chan struct{})
	s.cmd = exec.Command(s.bin, append(s.args, "posix", s.dir)...)
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// The server dies with the test binary, even one killed by a timeout.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := s.exited
	go func() { _ = s.cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(wait)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited at start: %s", strings.TrimSpace(s.log.String()))
		default:
		}
		if resp, err := client.Get(s.Endpoint); err == nil {
			resp.Body.Close()
			return nil // any answer, even 403, means it serves
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw did not answer on %s within %s: %s", s.Endpoint, wait, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) makeBucket(ctx context.Context) error {
	host, secure := strings.TrimPrefix(s.Endpoint, "http://"), false
	var transport http.RoundTripper
	if strings.HasPrefix(s.Endpoint, "https://") {
		host, secure = strings.TrimPrefix(s.Endpoint, "https://"), true
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	client, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:    s.Region,
		Secure:    secure,
		Transport: transport,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		return fmt.Errorf("make bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// AddReadOnlyUser adds, on a server started by NewIAM, a user whose key
// may list and read the bucket but not write to it.
func (s *Server) AddReadOnlyUser(ctx context.Context, accessKey, secretKey string) error {
	return s.addUser(ctx, accessKey, secretKey, fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":[%q]},`+
		`"Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}`,
		accessKey, s.Bucket, s.Bucket))
}

// AddPrefixUser adds, on a server started by NewIAM, a user whose key may
// list, read, write and delete only the keys under prefix ("dir/"), as a
// bucket shared by several hosts is often set up: it may not ask whether
// the bucket exists (HEAD), which needs leave to list all of it.
func (s *Server) AddPrefixUser(ctx context.Context, accessKey, secretKey, prefix string) error {
	return s.addUser(ctx, accessKey, secretKey, fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":[%q]},`+
		`"Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::%s"],"Condition":{"StringLike":{"s3:prefix":[%q]}}},`+
		`{"Effect":"Allow","Principal":{"AWS":[%q]},`+
		`"Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":["arn:aws:s3:::%s/%s*"]}`,
		accessKey, s.Bucket, prefix+"*", accessKey, s.Bucket, prefix))
}

// addUser creates a user and sets the bucket's policy to statements (a
// comma-separated list of JSON objects), replacing the policy that let
// in any user added before.
func (s *Server) addUser(ctx context.Context, accessKey, secretKey, statements string) error {
	if s.adminPort == 0 {
		return errors.New("adding a user needs a server started by NewIAM")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "admin", "--access", s.AccessKey, "--secret", s.SecretKey,
		"--endpoint-url", fmt.Sprintf("http://127.0.0.1:%d", s.adminPort),
		"create-user", "--access", accessKey, "--secret", secretKey, "--role", "user")
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("versitygw admin create-user: %w: %s", err, bytes.TrimSpace(out))
	}
	client, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: s.Region,
	})
	if err != nil {
		return err
	}
	return client.SetBucketPolicy(ctx, s.Bucket, `{"Version":"2012-10-17","Statement":[`+statements+`]}`)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv is the environment without the variables versitygw reads its
// settings from, so a developer's shell cannot change the test server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VGW_") && !strings.HasPrefix(kv, "ROOT_") {
			env = append(env, kv)
		}
	}
	return env
}

var install struct {
	once sync.Once
	bin  string
	err  error
}

// Install makes sure the pinned versitygw is in the module's .tools
// folder, running install.sh under a file lock, once per process, and
// returns the binary's path.
func Install() (string, error) {
	install.once.Do(func() {
		install.bin, install.err = doInstall()
	})
	return install.bin, install.err
}

func doInstall() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	tools := filepath.Join(root, ".tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(tools, ".s3test.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	script := filepath.Join(root, "backends", "s3", "s3test", "install.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", script)
	cmd.Env = append(os.Environ(), "TOOLS_DIR="+tools)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install versitygw (%s): %w: %s", script, err, bytes.TrimSpace(out))
	}
	return filepath.Join(tools, "versitygw"), nil
}

// moduleRoot walks up from the working folder (a test's package folder) to
// the folder holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working folder")
		}
		dir = parent
	}
}

// syncBuffer collects the server's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
