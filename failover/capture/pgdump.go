package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// PgDumpArgs are Heroku's own pg_dump flags for a logical backup; the
// connection comes from PG* environment variables, never the arguments.
var PgDumpArgs = []string{"pg_dump", "-Fc", "--no-acl", "--no-owner", "--quote-all-identifiers", "--exclude-schema=heroku_ext"}

// RoleCapture labels the pg_dump container (io.lifeboat.role and .purpose).
const RoleCapture = "capture"

// PgDump dumps a database with pg_dump run in a Postgres container of the
// server's major version (asked from the server first), so that the host
// needs no matching client. The container shares the host's network, so it
// reaches the database exactly as the version query did.
type PgDump struct {
	// AppName labels and names the container.
	AppName string
	// URL returns the database URL (it holds a password: never logged).
	URL func(ctx context.Context) (string, error)
	// Image is the pg_dump image, or "auto" for postgres:{major}.
	Image    string
	Engine   *engine.Engine
	Progress io.Writer
	// ConnectTimeout bounds the version query's connection (default 30s).
	ConnectTimeout time.Duration
}

// Name is "pg_dump".
func (p *PgDump) Name() string { return "pg_dump" }

// URLFromFile reads a database URL from a secret file (mode 0600, the
// user's own; checked again at each run).
func URLFromFile(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if err := fsutil.CheckSecretFile(path); err != nil {
			return "", fmt.Errorf("capture.database_url_file: %w", err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("capture.database_url_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
}

// conn is a database URL taken apart for libpq's environment variables.
type conn struct {
	url, host string
	env       []string
}

func parseURL(raw string) (*conn, error) {
	u, err := url.Parse(raw)
	// url.Parse's errors quote the URL, password included.
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, errors.New("the database URL must look like postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	}
	c := &conn{url: raw, host: u.Hostname()}
	env := []string{"PGHOST=" + u.Hostname(), "PGAPPNAME=lifeboat-capture"}
	if p := u.Port(); p != "" {
		env = append(env, "PGPORT="+p)
	}
	if u.User != nil {
		env = append(env, "PGUSER="+u.User.Username())
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		env = append(env, "PGDATABASE="+db)
	}
	q := u.Query()
	for param, envName := range map[string]string{"sslmode": "PGSSLMODE", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"} {
		if v := q.Get(param); v != "" {
			env = append(env, envName+"="+v)
		}
	}
	c.env = env
	return c, nil
}

// scrub removes the password from text quoted from the database or pg_dump.
func (c *conn) scrub(text string) string {
	return textsafe.ScrubURL(text, "database URL", c.url)
}

// Open asks the server its version, starts a container of the matching
// image and pg_dump in it, its output streamed to the returned Stream.
func (p *PgDump) Open(ctx context.Context) (*Stream, error) {
	raw, err := p.URL(ctx)
	if err != nil {
		return nil, err
	}
	c, err := parseURL(raw)
	if err != nil {
		return nil, err
	}
	info, err := p.ask(ctx, c)
	if err != nil {
		return nil, err
	}
	major, _, _ := strings.Cut(info.ServerVersion, ".")
	info.Image = p.Image
	if info.Image == "" || info.Image == "auto" {
		info.Image = "postgres:" + major
	}
	if p.Progress != nil {
		fmt.Fprintf(p.Progress, "  server PostgreSQL %s on %s%s; pg_dump in %s\n", info.ServerVersion, info.Host, followerNote(info.Follower), info.Image)
	}
	if _, err := p.Engine.EnsureImage(ctx, info.Image, p.Progress); err != nil {
		return nil, fmt.Errorf("the pg_dump image: %w (set capture.image to a Postgres image of version %s or newer)", err, major)
	}
	labels := map[string]string{engine.LabelApp: p.AppName, engine.LabelRole: RoleCapture, engine.LabelPurpose: RoleCapture}
	// A capture killed earlier left its container: the capture lock is
	// held, so any capture container of the app is a leftover.
	if old, err := p.Engine.ListContainers(ctx, labels, true); err == nil {
		for _, o := range old {
			_ = p.Engine.RemoveContainer(ctx, o.ID, true)
		}
	}
	id, err := p.Engine.CreateContainer(ctx, engine.ContainerSpec{
		Name:       fmt.Sprintf("lifeboat-%s-capture-%d", p.AppName, time.Now().Unix()),
		Image:      info.Image,
		Entrypoint: []string{"sleep"},
		Cmd:        []string{"infinity"},
		Labels:     labels,
		Network:    "host",
		StopSignal: "SIGKILL",
	})
	if err != nil {
		return nil, err
	}
	remove := func() { _ = p.Engine.RemoveContainer(context.WithoutCancel(ctx), id, true) }
	if err := p.Engine.StartContainer(ctx, id); err != nil {
		remove()
		return nil, err
	}
	pr, pw := io.Pipe()
	stderr := &tail{max: 32 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, err := p.Engine.Exec(ctx, id, PgDumpArgs, engine.ExecOptions{Env: c.env, Stdout: pw, Stderr: stderr})
		if err == nil && code != 0 {
			err = dumpFailure(code, c.scrub(stderr.String()))
		}
		pw.CloseWithError(err)
	}()
	var once sync.Once
	return &Stream{Reader: pr, Info: info, close: func() error {
		once.Do(func() {
			pr.CloseWithError(errors.New("capture stopped")) // unblocks pg_dump's writer
			remove()                                         // stops pg_dump
			<-done
		})
		return nil
	}}, nil
}

func followerNote(follower bool) string {
	if follower {
		return " (a follower)"
	}
	return ""
}

// ask connects to the server and asks its version and whether it is a
// follower, before anything else: pg_dump must be of that major version
// (or newer).
func (p *PgDump) ask(ctx context.Context, c *conn) (SourceInfo, error) {
	info := SourceInfo{Host: c.host}
	timeout := p.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cfg, err := pgx.ParseConfig(c.url)
	if err != nil {
		return info, fmt.Errorf("%w: the database URL: %s", ErrSourceUnreachable, c.scrub(err.Error()))
	}
	cfg.ConnectTimeout = timeout
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return info, fmt.Errorf("%w: %s: check capture.database_url_file and that this machine may connect", ErrSourceUnreachable, c.scrub(err.Error()))
	}
	defer db.Close(context.WithoutCancel(ctx))
	var num int
	var version string
	if err := db.QueryRow(cctx, "select current_setting('server_version_num')::int, current_setting('server_version'), pg_is_in_recovery()").
		Scan(&num, &version, &info.Follower); err != nil {
		return info, fmt.Errorf("%w: asking the server version: %s", ErrSourceUnreachable, c.scrub(err.Error()))
	}
	if num < 90200 {
		return info, fmt.Errorf("%w: PostgreSQL %s is older than any image pg_dump could run in", ErrDumpFailed, version)
	}
	// "15.7 (Debian 15.7-0+deb12u1)" → "15.7"; 9.x keeps its two-part major.
	info.ServerVersion = strings.Fields(version)[0]
	if num < 100000 {
		info.ServerVersion = strconv.Itoa(num/10000) + "." + strconv.Itoa(num/100%100)
	}
	return info, nil
}

// dumpFailure names why pg_dump failed, from its exit code and last lines.
func dumpFailure(code int, stderr string) error {
	last := lastLines(stderr, 8)
	if strings.Contains(stderr, "conflict with recovery") {
		return fmt.Errorf("%w: %s\nThe follower replayed changes the dump still needed. Run the capture again at a quieter time, capture from the primary (capture.database), or, on a self-managed standby, raise max_standby_streaming_delay or turn on hot_standby_feedback", ErrRecoveryConflict, last)
	}
	for _, s := range []string{"could not connect", "password authentication failed", "could not translate host name", "timeout expired"} {
		if strings.Contains(stderr, s) || (strings.Contains(stderr, "connection to server at") && strings.Contains(stderr, "failed:")) {
			return fmt.Errorf("%w: pg_dump could not connect (exit %d): %s", ErrSourceUnreachable, code, last)
		}
	}
	if strings.Contains(stderr, "terminating connection") || strings.Contains(stderr, "server closed the connection unexpectedly") {
		return fmt.Errorf("%w (exit %d): the server ended the dump's connection (an operator, a restart or a failover): %s\nNothing was stored; run the capture again", ErrDumpFailed, code, last)
	}
	return fmt.Errorf("%w (exit %d): %s", ErrDumpFailed, code, last)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return textsafe.Escape(strings.Join(lines, "\n"))
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
