package database

import (
	"archive/tar"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// The verifier is what PostgreSQL stores for a SCRAM-SHA-256 password:
// recomputing StoredKey and ServerKey from its salt and the password gives
// the same values (the real login is TestTemplateLife's).
func TestScramVerifier(t *testing.T) {
	v, err := scramVerifier("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$4096:")
	if !ok {
		t.Fatalf("verifier %q", v)
	}
	salt64, keys, _ := strings.Cut(rest, "$")
	stored64, server64, _ := strings.Cut(keys, ":")
	salt, _ := base64.StdEncoding.DecodeString(salt64)
	salted, _ := pbkdf2.Key(sha256.New, "s3cret", salt, 4096, 32)
	m := hmac.New(sha256.New, salted)
	m.Write([]byte("Client Key"))
	stored := sha256.Sum256(m.Sum(nil))
	m = hmac.New(sha256.New, salted)
	m.Write([]byte("Server Key"))
	if len(salt) != 16 || stored64 != base64.StdEncoding.EncodeToString(stored[:]) || server64 != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Fatalf("verifier %q does not match the password", v)
	}
	if v2, _ := scramVerifier("s3cret"); v2 == v {
		t.Fatal("two verifiers share a salt")
	}
}

func writeTar(t *testing.T, path string, names ...string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o700})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o600, Size: 3})
		tw.Write([]byte("15\n"))
	}
	tw.Close()
	f.Close()
}

// A copied data directory is accepted only when it is one: pgdata/ with
// its PG_VERSION, nothing outside it.
func TestCheckTemplateTar(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		names []string
		ok    bool
	}{
		"good":       {[]string{"pgdata/", "pgdata/PG_VERSION", "pgdata/base/"}, true},
		"no version": {[]string{"pgdata/", "pgdata/base/"}, false},
		"outside":    {[]string{"pgdata/", "pgdata/PG_VERSION", "pgdata/../etc/passwd"}, false},
		"absolute":   {[]string{"pgdata/", "pgdata/PG_VERSION", "/etc/passwd"}, false},
		"elsewhere":  {[]string{"other/PG_VERSION"}, false},
	} {
		p := filepath.Join(dir, name+".tar")
		writeTar(t, p, c.names...)
		if err := checkTemplateTar(p); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", name, err, c.ok)
		}
	}
}

// Find returns only a complete template of the same image, user and
// database: never a half-built one, one whose tar is cut short, or one
// made for something else.
func TestFindTemplate(t *testing.T) {
	root := t.TempDir()
	ts := Templates{Root: root}
	r := TemplateRequest{Image: "postgres:15", ImageID: "sha256:aaa", User: "postgres", Database: "shop"}
	if ts.Find(r) != nil {
		t.Fatal("found a template in an empty directory")
	}
	// A build killed before its rename: a .building- directory only.
	half := filepath.Join(root, templateTmpPrefix+"x")
	os.MkdirAll(half, 0o700)
	writeTar(t, filepath.Join(half, templateTar), "pgdata/", "pgdata/PG_VERSION")
	if ts.Find(r) != nil {
		t.Fatal("found a half-built template")
	}
	if err := ts.removeBuilding(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatalf("the half-built template is still there: %v", err)
	}

	dir := filepath.Join(root, r.key())
	os.MkdirAll(dir, 0o700)
	writeTar(t, filepath.Join(dir, templateTar), "pgdata/", "pgdata/PG_VERSION")
	st, _ := os.Stat(filepath.Join(dir, templateTar))
	meta := Template{Version: templateVersion, ImageID: r.ImageID, User: r.User, Database: r.Database, TarBytes: st.Size()}
	fsutil.WriteJSONAtomic(filepath.Join(dir, templateMeta), meta, 0o600)
	tpl := ts.Find(r)
	if tpl == nil || tpl.Dir != dir {
		t.Fatalf("the complete template is not found: %+v", tpl)
	}
	for name, other := range map[string]TemplateRequest{
		"image":    {ImageID: "sha256:bbb", User: r.User, Database: r.Database},
		"user":     {ImageID: r.ImageID, User: "admin", Database: r.Database},
		"database": {ImageID: r.ImageID, User: r.User, Database: "other"},
	} {
		if ts.Find(other) != nil {
			t.Errorf("another %s finds the template", name)
		}
	}
	os.Truncate(filepath.Join(dir, templateTar), st.Size()-1)
	if ts.Find(r) != nil {
		t.Fatal("a template whose tar was cut short is found")
	}
	if err := ts.Discard(tpl); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("Discard left the template")
	}
	// Discard never removes what is not a template of this directory.
	outside := t.TempDir()
	if err := ts.Discard(&Template{Dir: outside}); err != nil || !exists(outside) {
		t.Fatalf("Discard of a directory elsewhere: %v", err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// A data directory initialized once (Ensure) starts servers that behave
// as one initialized by the entrypoint: the database exists, the
// entrypoint's settings are there, and each server has its own password
// (the template's and another server's do not log in).
func TestTemplateLife(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	img, err := s.Engine.InspectImage(ctx, s.Image)
	if err != nil {
		t.Fatal(err)
	}
	ts := Templates{Root: filepath.Join(t.TempDir(), "templates"), Engine: s.Engine}
	os.MkdirAll(filepath.Join(ts.Root, templateTmpPrefix+"killed"), 0o700)
	req := TemplateRequest{Image: s.Image, ImageID: img.ID, User: s.User, Database: s.Database,
		Name: s.Name + "-template", Labels: s.Labels, ReadyTimeout: s.ReadyTimeout}
	t0 := time.Now()
	tpl, built, err := ts.Ensure(ctx, req)
	t.Logf("template built in %.2fs (%d bytes)", time.Since(t0).Seconds(), tpl.TarBytes)
	if err != nil || !built {
		t.Fatalf("Ensure: built %v, %v", built, err)
	}
	if !strings.HasPrefix(tpl.ServerVersion, "15") || tpl.TarBytes < 1<<20 {
		t.Fatalf("template %+v", tpl)
	}
	if exists(filepath.Join(ts.Root, templateTmpPrefix+"killed")) {
		t.Error("a killed build's directory is left")
	}
	if _, err := s.Engine.InspectContainer(ctx, req.Name); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the template's container is left: %v", err)
	}
	again, built, err := ts.Ensure(ctx, req)
	if err != nil || built || again.Dir != tpl.Dir {
		t.Fatalf("second Ensure: built %v, %+v, %v", built, again, err)
	}

	t0 = time.Now()
	if err := s.CreateFromTemplateForBulkLoad(ctx, "", tpl, BulkLoadSettings(0, 1)); err != nil {
		t.Fatal(err)
	}
	version, err := s.WaitReady(ctx)
	t.Logf("server from the template ready in %.2fs", time.Since(t0).Seconds())
	if err != nil || version != tpl.ServerVersion {
		t.Fatalf("WaitReady: %q, %v", version, err)
	}
	url, _ := s.URL(ctx)
	if got := queryOne(t, url, "select current_database() || ' ' || current_setting('fsync') || ' ' || current_setting('listen_addresses')"); got != "shop off *" {
		t.Errorf("database, fsync, listen_addresses: %q", got)
	}
	if got := queryOne(t, url, "select count(*)::text from pg_hba_file_rules where type = 'host' and auth_method = 'scram-sha-256'"); got == "0" {
		t.Error("the entrypoint's host rule is not in pg_hba.conf")
	}

	// A second server from the same template has a password of its own.
	s2 := *s
	s2.Name, s2.Volume, s2.PasswordFile = s.Name+"2", s.Volume+"2", filepath.Join(t.TempDir(), "password")
	if err := s2.CreateFromTemplateForBulkLoad(ctx, "", tpl, BulkLoadSettings(0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	p1, _ := s.Password()
	p2, _ := s2.Password()
	url2, _ := s2.URL(ctx)
	if p1 == p2 {
		t.Fatal("two servers share a password")
	}
	wrong := strings.Replace(url2, p2, p1, 1)
	if conn, err := pgx.Connect(ctx, wrong); err == nil {
		conn.Close(ctx)
		t.Fatal("the first server's password logs in to the second")
	}

	// A template changed since it was made is refused before the server
	// starts, and Discard removes it.
	f, _ := os.OpenFile(filepath.Join(tpl.Dir, templateTar), os.O_WRONLY, 0)
	f.WriteAt([]byte{'x'}, tpl.TarBytes-1)
	f.Close()
	s3 := *s
	s3.Name, s3.Volume, s3.PasswordFile = s.Name+"3", s.Volume+"3", filepath.Join(t.TempDir(), "password")
	err = s3.CreateFromTemplateForBulkLoad(ctx, "", tpl, BulkLoadSettings(0, 1))
	if !errors.Is(err, ErrTemplate) {
		t.Fatalf("a changed template: %v", err)
	}
	if c, err := s.Engine.InspectContainer(ctx, s3.Name); err != nil || c.State != "created" {
		t.Fatalf("the server of a changed template was started: %+v %v", c.State, err)
	}
}

// poll tries until done, an error, or its time is up.
func TestPoll(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := poll(ctx, time.Second, time.Millisecond, 2*time.Millisecond, func() (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Fatalf("done on the third try: %d tries, %v", n, err)
	}
	boom := errors.New("boom")
	if err := poll(ctx, time.Second, time.Millisecond, time.Millisecond, func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed try: %v", err)
	}
	start := time.Now()
	err := poll(ctx, 50*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond, func() (bool, error) { return false, nil })
	if !errors.Is(err, errPollTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("time up: %v after %v", err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := poll(cctx, time.Minute, time.Second, time.Second, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestWaitReadyNobodyListens: with nothing on the address, WaitReady asks
// several times (fast at first), then fails with ErrNotReady in about its
// timeout, naming the last error without the URL's password.
func TestWaitReadyNobodyListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nobody listens on
	url := "postgres://postgres:s3cret-pw@" + addr + "/shop?sslmode=disable"
	asked := 0
	start := time.Now()
	_, err = WaitReady(context.Background(), url, 500*time.Millisecond, func(context.Context) error { asked++; return nil })
	took := time.Since(start)
	if !errors.Is(err, ErrNotReady) || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("WaitReady: %v, want ErrNotReady without the password", err)
	}
	if took < 500*time.Millisecond || took > 3*time.Second {
		t.Errorf("gave up after %v, want about 500ms", took)
	}
	if asked < 5 {
		t.Errorf("asked %d times in 500ms, want at least 5 (25 ms apart at first)", asked)
	}
	// A server that is gone ends the wait at once.
	_, err = WaitReady(context.Background(), url, time.Minute, func(context.Context) error { return errors.New("container x is exited") })
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("WaitReady with a dead server: %v", err)
	}
}
