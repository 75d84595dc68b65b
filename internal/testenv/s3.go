package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 is a MinIO server process serving the S3 API on 127.0.0.1 (or the
// address given with [ListenOn]), started by [StartS3] for one test, or
// another S3 server wrapped by [UseS3].
// Path-style addressing only (bucket in the path): clients must set
// UsePathStyle.
type S3 struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:<port>".
	Endpoint string
	// Region is the region the server answers for ("us-east-1").
	Region string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey, SecretKey string
	// Client is an aws-sdk-go-v2 S3 client for test setup and checks, pointed
	// at Endpoint with path-style addressing. It sends and validates checksums
	// only when asked to (RequestChecksumCalculation and
	// ResponseChecksumValidation "when required"), so objects put without a
	// checksum option carry none, like those of older uploaders.
	Client *s3.Client

	bin, dataDir, certsDir, logPath string
	host                            string // the address it listens on
	port, consolePort               int
	drives                          int    // 0: one data directory
	kmsKey                          string // MINIO_KMS_SECRET_KEY, "" for none

	mu     sync.Mutex
	proc   *process // nil while stopped
	server S3Server // set by UseS3 instead of bin, proc…
}

// S3Server is an S3 server that is not a MinIO process started here (the
// demo's in-process one, see [UseS3]).
type S3Server interface {
	// Stop stops serving and returns when the address refuses connections;
	// the objects are kept.
	Stop() error
	// Start serves the same objects on the same address again.
	Start() error
}

// UseS3 returns an S3 for a server that is already listening at endpoint
// with the given credentials: its Client and helpers work as with
// [StartS3], and [S3.Stop] and [S3.Start] call srv's. The server is stopped
// when the test ends.
func UseS3(t testing.TB, endpoint, accessKey, secretKey string, srv S3Server) *S3 {
	t.Helper()
	s := &S3{Endpoint: endpoint, Region: s3Region, AccessKey: accessKey, SecretKey: secretKey, server: srv}
	s.Client = newS3Client(s.Endpoint, s.Region, s.AccessKey, s.SecretKey)
	t.Cleanup(s.shutdown)
	return s
}

// Region of every server started by StartS3.
const s3Region = "us-east-1"

// StartS3 starts a fresh MinIO server on 127.0.0.1 with an empty data
// directory under t.TempDir(), waits until it is ready, and stops it when the
// test ends. The minio binary is, in order: $LIFEBOAT_MINIO_BIN,
// ~/.cache/lifeboat/tools/bin/minio (where scripts/test-deps.sh puts it), or
// minio on PATH; if there is none the test fails.
func StartS3(t testing.TB, opts ...S3Option) *S3 {
	t.Helper()
	bin := findExecutable("LIFEBOAT_MINIO_BIN", "minio", filepath.Join(toolsDir(), "minio"))
	if bin == "" {
		Missing(t, "testenv: minio not found: %s", depsHint)
	}
	dir := t.TempDir()
	s := &S3{
		Region:    s3Region,
		AccessKey: "lifeboat-test",
		SecretKey: randomHex(t, 20),
		bin:       bin,
		dataDir:   filepath.Join(dir, "data"),
		certsDir:  filepath.Join(dir, "certs"),
		logPath:   filepath.Join(dir, "minio.log"),
		host:      "127.0.0.1",
	}
	for _, o := range opts {
		o(s)
	}
	for _, d := range append([]string{s.certsDir}, s.dataDirs()...) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	t.Cleanup(s.shutdown)

	// Another process may take the port between FreePort and minio's bind:
	// then try other ports.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.port, s.consolePort = FreePort(t), FreePort(t)
		if err = s.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: starting minio: %v\nlog (%s):\n%s", err, s.logPath, tailFile(s.logPath, 40))
	}
	s.Endpoint = "http://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
	s.Client = newS3Client(s.Endpoint, s.Region, s.AccessKey, s.SecretKey)
	return s
}

// NewS3Client returns an aws-sdk-go-v2 client of the S3 server at endpoint
// with the given keys, configured like [S3.Client] (for a second user of
// the same server).
func NewS3Client(endpoint, region, accessKey, secretKey string) *s3.Client {
	return newS3Client(endpoint, region, accessKey, secretKey)
}

func newS3Client(endpoint, region, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// S3Option changes how StartS3 starts the server.
type S3Option func(*S3)

// WithDrives starts MinIO on n data directories (n >= 4) instead of one:
// erasure mode, which Object Lock, versioning and lifecycle transitions
// need (a single-directory server refuses them).
func WithDrives(n int) S3Option {
	return func(s *S3) { s.drives = n }
}

// WithKMS gives MinIO a built-in key (MINIO_KMS_SECRET_KEY), so that
// buckets can have default encryption (SSE-S3).
func WithKMS() S3Option {
	return func(s *S3) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic(err)
		}
		s.kmsKey = "lifeboat-test-key:" + base64.StdEncoding.EncodeToString(key)
	}
}

// dataDirs are the directories MinIO stores objects in.
func (s *S3) dataDirs() []string {
	if s.drives <= 1 {
		return []string{s.dataDir}
	}
	var dirs []string
	for i := 1; i <= s.drives; i++ {
		dirs = append(dirs, filepath.Join(s.dataDir, fmt.Sprintf("drive%d", i)))
	}
	return dirs
}

// ListenOn makes the server listen on host, an address of this machine,
// instead of 127.0.0.1: the gateway of a Docker network the test created,
// for containers on that network to reach it. Nothing else should be.
func ListenOn(host string) S3Option {
	return func(s *S3) { s.host = host }
}

var errPortTaken = errors.New("port already in use")

// start runs minio on s.port and waits until it serves requests.
func (s *S3) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	args := append([]string{"server",
		"--address", net.JoinHostPort(s.host, strconv.Itoa(s.port)),
		"--console-address", "127.0.0.1:" + strconv.Itoa(s.consolePort),
		"--certs-dir", s.certsDir,
	}, s.dataDirs()...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(minimalEnv(),
		"HOME="+filepath.Dir(s.dataDir), // minio must not touch ~/.minio
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_REGION="+s.Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // no root-drive check, no interactive banner
	)
	if s.kmsKey != "" {
		cmd.Env = append(cmd.Env, "MINIO_KMS_SECRET_KEY="+s.kmsKey)
	}
	p, err := startProcess("minio", cmd, s.logPath)
	if err != nil {
		return err
	}
	// Not /minio/health/ready: it answers 200 before the object layer is
	// up (marking the answer "X-Minio-Server-Status: offline"), and the
	// first request then fails with XMinioServerNotInitialized on a busy
	// machine. /minio/health/cluster answers 200 only once objects,
	// bucket metadata and IAM are initialized.
	url := "http://" + net.JoinHostPort(s.host, strconv.Itoa(s.port)) + "/minio/health/cluster"
	hc := &http.Client{Timeout: 2 * time.Second}
	err = waitUntil(p, 60*time.Second, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		p.stop(syscall.SIGKILL, 0)
		if isAddrInUse(p.logTail()) {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return err
	}
	s.proc = p
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s) and returns when
// it has exited; its port and data stay reserved for [S3.Start]. Requests made
// meanwhile fail with "connection refused", as during an outage.
func (s *S3) Stop(t testing.TB) {
	t.Helper()
	if s.server != nil {
		if err := s.server.Stop(); err != nil {
			t.Fatalf("testenv: stopping the S3 server: %v", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatal("testenv: S3.Stop: the server is not running")
	}
	s.proc.stop(syscall.SIGTERM, 10*time.Second)
	s.proc = nil
}

// Start starts a server stopped by [S3.Stop] again, on the same port and
// data directory, and waits until it is ready.
func (s *S3) Start(t testing.TB) {
	t.Helper()
	if s.server != nil {
		if err := s.server.Start(); err != nil {
			t.Fatalf("testenv: restarting the S3 server: %v", err)
		}
		return
	}
	var err error
	// The old socket may linger a moment: retry briefly.
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.start(); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("testenv: restarting minio: %v\nlog (%s):\n%s", err, s.logPath, tailFile(s.logPath, 40))
	}
}

// shutdown is the t.Cleanup of StartS3.
func (s *S3) shutdown() {
	if s.server != nil {
		s.server.Stop()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop(syscall.SIGTERM, 10*time.Second)
		s.proc = nil
	}
}

// CreateBucket creates a bucket.
func (s *S3) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	// On a loaded machine MinIO may report ready a moment before it
	// accepts writes ("Server not initialized yet"): wait for that too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "XMinioServerNotInitialized") || time.Now().After(deadline) {
			t.Fatalf("testenv: creating bucket %q: %v", bucket, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// PutOption adjusts an upload by [S3.Put] or [S3.PutFile].
type PutOption func(*putOptions)

type putOptions struct {
	checksum     types.ChecksumAlgorithm
	storageClass types.StorageClass
	contentType  string
	metadata     map[string]string
	partSize     int64
}

// WithSHA256Checksum uploads with ChecksumAlgorithm SHA256: the SDK sends
// the object's SHA-256 and the server stores it, so HeadObject/GetObject with
// ChecksumMode ENABLED return it in ChecksumSHA256 (base64). For a multipart
// upload it is a checksum of the parts' checksums, suffixed "-N".
func WithSHA256Checksum() PutOption {
	return WithChecksum(types.ChecksumAlgorithmSha256)
}

// WithChecksum uploads with the given checksum algorithm (CRC32, CRC32C,
// SHA1, SHA256, CRC64NVME).
func WithChecksum(alg types.ChecksumAlgorithm) PutOption {
	return func(o *putOptions) { o.checksum = alg }
}

// WithStorageClass sets the object's storage class. MinIO accepts only
// STANDARD and REDUCED_REDUNDANCY; GLACIER and DEEP_ARCHIVE objects (and their
// InvalidObjectState errors) need a fake.
func WithStorageClass(class string) PutOption {
	return func(o *putOptions) { o.storageClass = types.StorageClass(class) }
}

// WithContentType sets the object's Content-Type.
func WithContentType(contentType string) PutOption {
	return func(o *putOptions) { o.contentType = contentType }
}

// WithMetadata adds a user metadata entry (x-amz-meta-<key>).
func WithMetadata(key, value string) PutOption {
	return func(o *putOptions) {
		if o.metadata == nil {
			o.metadata = map[string]string{}
		}
		o.metadata[key] = value
	}
}

// WithPartSize makes [S3.PutFile] upload files larger than size bytes in
// parts of that size (at least 5 MiB, S3's minimum). Without it, files over
// 16 MiB are uploaded in 8 MiB parts. The ETag of a multipart object is
// "<md5 of the parts' md5s>-<number of parts>". Put ignores it.
func WithPartSize(size int64) PutOption {
	return func(o *putOptions) { o.partSize = size }
}

func collectPutOptions(opts []PutOption) putOptions {
	var o putOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Put uploads body as one object with a single PutObject.
func (s *S3) Put(t testing.TB, bucket, key string, body []byte, opts ...PutOption) {
	t.Helper()
	o := collectPutOptions(opts)
	in := &s3.PutObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ChecksumAlgorithm: o.checksum,
		StorageClass:      o.storageClass,
		Metadata:          o.metadata,
	}
	if o.contentType != "" {
		in.ContentType = aws.String(o.contentType)
	}
	if _, err := s.Client.PutObject(t.Context(), in); err != nil {
		t.Fatalf("testenv: putting s3://%s/%s: %v", bucket, key, err)
	}
}

// PutFile uploads the file at path, streaming it, with the SDK's transfer
// manager: a multipart upload when the file is larger than the part size
// (see [WithPartSize]), a single PutObject otherwise.
func (s *S3) PutFile(t testing.TB, bucket, key, path string, opts ...PutOption) {
	t.Helper()
	o := collectPutOptions(opts)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer f.Close()
	tm := transfermanager.New(s.Client, func(tmo *transfermanager.Options) {
		tmo.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		if o.partSize > 0 {
			tmo.PartSizeBytes = o.partSize
			tmo.MultipartUploadThreshold = o.partSize
		}
	})
	in := &transfermanager.UploadObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		Body:              f,
		ChecksumAlgorithm: tmtypes.ChecksumAlgorithm(o.checksum),
		StorageClass:      tmtypes.StorageClass(o.storageClass),
		Metadata:          o.metadata,
	}
	if o.contentType != "" {
		in.ContentType = aws.String(o.contentType)
	}
	if _, err := tm.UploadObject(t.Context(), in); err != nil {
		t.Fatalf("testenv: uploading %s to s3://%s/%s: %v", path, bucket, key, err)
	}
}

// Get returns the content of an object.
func (s *S3) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	out, err := s.Client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("testenv: getting s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(out.Body); err != nil {
		t.Fatalf("testenv: reading s3://%s/%s: %v", bucket, key, err)
	}
	return buf.Bytes()
}

// WriteCredentialsFile writes an AWS shared credentials file (mode 0600) in
// dir holding the server's keys as the [default] profile, and returns its
// path. Point AWS_SHARED_CREDENTIALS_FILE (or Lifeboat's config) at it.
func (s *S3) WriteCredentialsFile(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "credentials")
	content := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s.AccessKey, s.SecretKey)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// WriteFile keeps the mode of an existing file: make sure it is 0600.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return path
}

// Env returns the environment variables that point the AWS CLI or an SDK
// client configured from the environment at this server
// (AWS_ENDPOINT_URL_S3, AWS_REGION, keys), as "KEY=value" strings.
func (s *S3) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return hex.EncodeToString(b)
}

// minimalEnv is the environment of servers started here: PATH and locale
// only, so that no AWS_*, PG* or MINIO_* variable of the developer's shell
// changes their behaviour.
func minimalEnv() []string {
	env := []string{"LANG=C.UTF-8", "TZ=UTC"}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	} else {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return env
}
