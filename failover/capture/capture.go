// Package capture makes the archives: a logical backup of the app's
// production database (pg_dump of a follower or the primary), streamed into
// the app's bucket in the layout heroku-database-backups uses and `fetch`
// reads, never whole in memory or on disk, read to its end by the pure-Go
// pg_dump reader on the way, and completed in the bucket only when the dump
// finished and verified. One capture per app at a time (its own lock: a
// capture and a refresh of the same app may run together).
package capture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/heroku"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Named errors; test with errors.Is.
var (
	// ErrNotConfigured: the app has no capture.source.
	ErrNotConfigured = errors.New("capture is not configured")
	// ErrSourceUnreachable: the database to dump could not be reached
	// (connection refused, DNS, timeout, authentication).
	ErrSourceUnreachable = errors.New("source database unreachable")
	// ErrDumpFailed: pg_dump failed; its last error lines are quoted.
	ErrDumpFailed = errors.New("pg_dump failed")
	// ErrRecoveryConflict: a follower cancelled the dump because it
	// replayed changes the dump still needed.
	ErrRecoveryConflict = errors.New("the follower cancelled the dump (conflict with recovery)")
	// ErrDumpInvalid: the stream is not a complete pg_dump custom-format
	// archive; nothing was stored.
	ErrDumpInvalid = errors.New("the dump does not verify")
)

// Kind is the run-record kind of captures.
const Kind = "capture"

// Uploader is the app's bucket as a capture writes to it: two write
// operations, no List, Get or Delete (s3store.Store implements it).
type Uploader interface {
	UploadStream(ctx context.Context, key string, r io.Reader, o s3store.UploadOptions) (s3store.Uploaded, error)
	PutSmall(ctx context.Context, key string, body []byte, contentType string) error
	Bucket() string
}

// Source yields one logical backup.
type Source interface {
	// Name is the capture.source value, e.g. "pg_dump".
	Name() string
	// Open starts the dump. The stream ends with io.EOF only when the dump
	// completed; every failure is the stream's read error (wrapping
	// ErrDumpFailed, ErrRecoveryConflict…). Errors of Open itself wrap
	// ErrSourceUnreachable or describe what could not be prepared.
	Open(ctx context.Context) (*Stream, error)
}

// Stream is a dump in progress.
type Stream struct {
	io.Reader
	// Info is what the source learned before the dump started.
	Info SourceInfo
	// close stops the dump (if still running) and releases its resources.
	close func() error
}

// Close stops the dump and releases what it used.
func (s *Stream) Close() error {
	if s.close == nil {
		return nil
	}
	c := s.close
	s.close = nil
	return c()
}

// SourceInfo describes the database dumped.
type SourceInfo struct {
	// ServerVersion is the server's version ("15.7"), Follower whether it
	// was in recovery (a follower) when asked.
	ServerVersion string `json:"server_version"`
	Follower      bool   `json:"follower"`
	// Image is the image pg_dump ran in.
	Image string `json:"image"`
	// Host is the server's host name (never the URL: it holds a password),
	// or the Heroku add-on.
	Host string `json:"host"`
	// Backup is the Heroku backup (b042) of source heroku.
	Backup string `json:"backup,omitempty"`
}

// Result is what a capture did; it is also the run record's details.
type Result struct {
	App    string `json:"app"`
	Source string `json:"source"`
	// Database is the config var the archive is named after.
	Database string     `json:"database"`
	Outcome  string     `json:"outcome"` // captured, failed
	Info     SourceInfo `json:"source_info"`
	Bucket   string     `json:"bucket"`
	Key      string     `json:"key"`
	// Size and SHA256 are the object's; the sidecar KEY.sha256 holds the same.
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Sidecar string `json:"sidecar"`
	Parts   int    `json:"parts"`
	// DumpSize is the pg_dump archive's size (before gzip).
	DumpSize   int64  `json:"dump_size"`
	DumpSHA256 string `json:"dump_sha256"`
	Gzip       bool   `json:"gzip"`
	// Encrypted is "age" when the archive was encrypted before upload.
	Encrypted  string `json:"encrypted"`
	TOCEntries int    `json:"toc_entries"`
	DataTables int    `json:"data_tables"`
	// Verified lists the checks that passed.
	Verified   []string  `json:"verified"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"seconds"`
	Error      string    `json:"error"`
}

// Capturer captures one app's database into its bucket.
type Capturer struct {
	App    *config.App
	Source Source
	Store  Uploader
	Log    *slog.Logger
	// Progress gets human progress lines (may be nil).
	Progress io.Writer
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Key is the object key of a capture started at t, in heroku-database-backups'
// current scheme: {prefix}YYYY-MM-DD_HH-MM_UTC__{app}_{DATABASE}.dump[.gz][.age].
func Key(prefix, herokuApp, database string, t time.Time, gz, encrypted bool) string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	k := fmt.Sprintf("%s%s_UTC__%s_%s.dump", prefix, t.UTC().Format("2006-01-02_15-04"), herokuApp, database)
	if gz {
		k += ".gz"
	}
	if encrypted {
		k += ".age"
	}
	return k
}

// wrapStream copies the dump to w through gzip and age encryption (either
// may be off), closing each layer so its end is written.
func wrapStream(w io.Writer, dump io.Reader, gz bool, recipients []age.Recipient) error {
	var closers []io.Closer
	if recipients != nil {
		aw, err := crypt.EncryptAge(w, recipients)
		if err != nil {
			return err
		}
		w, closers = aw, append(closers, aw)
	}
	if gz {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		w, closers = zw, append(closers, zw)
	}
	if _, err := io.Copy(w, dump); err != nil {
		return err
	}
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i].Close(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Capturer) say(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// New returns the Capturer of the app's config: its source (capture.source)
// and bucket. Errors wrap ErrNotConfigured.
func New(app *config.App, eng *engine.Engine, store Uploader, log *slog.Logger, progress io.Writer) (*Capturer, error) {
	var src Source
	switch app.Capture.Source {
	case config.CapturePgDump:
		url := URLFromFile(app.Capture.DatabaseURLFile)
		if app.Capture.DatabaseURLFile == "" {
			url = URLFromHeroku(app.Stack.Heroku, app.Capture.Database)
		}
		src = &PgDump{AppName: app.Name, URL: url, Image: app.Capture.Image, Engine: eng, Progress: progress}
	case config.CaptureHeroku:
		token, err := readToken(app.Stack.Heroku.TokenFile)
		if err != nil {
			return nil, err
		}
		src = &HerokuBackups{App: app.Stack.Heroku.App, Database: app.Capture.Database, Poll: app.Capture.Poll.D(), Progress: progress,
			Client: &heroku.Client{APIURL: app.Stack.Heroku.APIURL, DataURL: app.Capture.DataAPIURL, Token: token}}
	default:
		return nil, fmt.Errorf("%w: app %s has no capture.source (pg_dump or heroku)", ErrNotConfigured, app.Name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Capturer{App: app, Source: src, Store: store, Log: log, Progress: progress}, nil
}

// Run captures; the caller holds the app's capture lock
// (failover.CaptureLock) and records the run (Result.Run; failover's
// Ops.Capture does both). Errors wrap the package's errors, or the store's
// (s3store.ErrExists, archive.ErrDenied, archive.ErrUnreachable…).
func (c *Capturer) Run(ctx context.Context) (*Result, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var err error
	res := &Result{App: c.App.Name, Source: c.Source.Name(), Database: c.App.Capture.Database,
		Gzip: c.App.Capture.Gzip, Bucket: c.Store.Bucket(), Verified: []string{}, StartedAt: now().UTC()}
	err = c.capture(ctx, res)
	res.FinishedAt = now().UTC()
	res.Seconds = res.FinishedAt.Sub(res.StartedAt).Seconds()
	res.Outcome = "captured"
	if err != nil {
		res.Outcome, res.Error = "failed", err.Error()
	}
	return res, err
}

// Run is the result as a run record.
func (r *Result) Run() *state.Run {
	return &state.Run{Kind: Kind, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, OK: r.Error == "",
		Outcome: r.Outcome, Error: r.Error,
		Phases: []state.Phase{{Name: "capture", Seconds: r.Seconds}},
		Details: map[string]any{"key": r.Key, "bucket": r.Bucket, "size": r.Size, "sha256": r.SHA256,
			"source": r.Source, "database": r.Database, "dump_size": r.DumpSize, "server_version": r.Info.ServerVersion}}
}

func (c *Capturer) capture(ctx context.Context, res *Result) error {
	cc := c.App.Capture
	var recipients []age.Recipient
	if len(cc.Encrypt.Recipients) > 0 {
		var err error
		if recipients, err = crypt.Recipients(cc.Encrypt.Recipients); err != nil {
			return fmt.Errorf("capture.encrypt.recipients: %w", err)
		}
		res.Encrypted = crypt.Age
	}
	res.Key = Key(c.App.S3.Prefix, cc.HerokuApp, cc.Database, res.StartedAt, cc.Gzip, recipients != nil)
	c.say("capture of %s (%s) into s3://%s/%s", cc.Database, res.Source, res.Bucket, res.Key)
	stream, err := c.Source.Open(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	res.Info = stream.Info

	// pg_dump → verifier (tee) → [gzip] → [age] → upload.
	vr := newVerifyingReader(ctx, stream, c.App.Download.DumpLimits())
	var body io.Reader = vr
	var zr *io.PipeReader
	if cc.Gzip || recipients != nil {
		var zw *io.PipeWriter
		zr, zw = io.Pipe()
		go func() { zw.CloseWithError(wrapStream(zw, vr, cc.Gzip, recipients)) }()
		body = zr
	}
	up, err := c.Store.UploadStream(ctx, res.Key, body, s3store.UploadOptions{
		PartSize: int64(cc.PartSize), Concurrency: cc.Concurrency,
	})
	if zr != nil {
		zr.CloseWithError(errors.New("upload ended")) // unblocks the gzip goroutine
	}
	res.DumpSize = vr.n
	if err != nil {
		return err
	}
	// The upload completed, so the stream reached its end and the
	// verifier is done.
	if a := vr.archive; a != nil {
		res.TOCEntries, res.DataTables = len(a.Entries), len(a.Summary().DataTables)
	}
	res.DumpSHA256 = vr.DumpSHA256()
	if res.Info.ServerVersion == "" && vr.archive != nil {
		res.Info.ServerVersion = vr.archive.Header.ServerVersion
	}
	res.Size, res.SHA256, res.Parts = up.Size, up.SHA256, up.Parts
	res.Verified = append(res.Verified, "pg_dump completed", "archive read to its end", "S3 checked every part's SHA-256")
	if res.Encrypted != "" {
		res.Verified = append(res.Verified, "encrypted with age on this machine before upload")
	}
	if up.NoOverwrite {
		res.Verified = append(res.Verified, "no existing object replaced (If-None-Match)")
	}
	sidecar := res.Key + ".sha256"
	line := fmt.Sprintf("%s  %s\n", up.SHA256, path.Base(res.Key))
	if err := c.Store.PutSmall(ctx, sidecar, []byte(line), "text/plain"); err != nil {
		return fmt.Errorf("the archive is stored, but its checksum sidecar is not: %w", err)
	}
	res.Sidecar = sidecar
	c.say("stored %s: %d bytes, sha256 %s, %d parts", res.Key, res.Size, res.SHA256, res.Parts)
	return nil
}

// verifyingReader passes the dump through while the pg_dump reader walks a
// copy of it to its end (header, table of contents, every data block); the
// end of the stream is io.EOF only when the source ended cleanly and the
// archive verified, so that an upload is never completed for a broken dump.
type verifyingReader struct {
	src     io.Reader
	pw      *io.PipeWriter
	done    chan struct{}
	archive *dump.Archive
	verr    error
	n       int64
	sum     hash.Hash
}

func newVerifyingReader(ctx context.Context, src io.Reader, lim dump.Limits) *verifyingReader {
	pr, pw := io.Pipe()
	v := &verifyingReader{src: src, pw: pw, done: make(chan struct{}), sum: sha256.New()}
	go func() {
		defer close(v.done)
		a, err := lim.Verify(ctx, pr)
		if err != nil {
			v.verr = err
			pr.CloseWithError(fmt.Errorf("%w: %v", ErrDumpInvalid, err))
			return
		}
		v.archive = a
		// Anything after the archive's end is not part of it.
		if n, _ := io.Copy(io.Discard, pr); n > 0 {
			v.verr = fmt.Errorf("%d bytes after the end of the archive", n)
		}
	}()
	return v
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.src.Read(p)
	if n > 0 {
		v.n += int64(n)
		v.sum.Write(p[:n])
		if _, werr := v.pw.Write(p[:n]); werr != nil {
			return n, werr
		}
	}
	switch {
	case err == io.EOF:
		v.pw.Close()
		<-v.done
		if v.verr != nil {
			return n, fmt.Errorf("%w: %v", ErrDumpInvalid, v.verr)
		}
		return n, io.EOF
	case err != nil:
		v.pw.CloseWithError(err)
		return n, err
	}
	return n, nil
}

// DumpSHA256 is the hex SHA-256 of the plain dump read so far.
func (v *verifyingReader) DumpSHA256() string { return hex.EncodeToString(v.sum.Sum(nil)) }
