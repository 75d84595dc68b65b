package database

import (
	"archive/tar"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
)

// Data directory templates.
//
// initdb and the image entrypoint's first start (the superuser, the
// database, pg_hba.conf, postgresql.conf, /docker-entrypoint-initdb.d) took
// about 1.8 s of every new generation. A Template is that data directory,
// made once per image (and superuser and database name) in a throwaway
// container, shut down cleanly, and kept as a tar file in the state
// directory. A new generation's volume is filled from it before its
// container first starts (the entrypoint then finds PG_VERSION and skips
// its initialization) and the generation's own password replaces the
// template's over the container's local socket before the server is
// reached over the network.
//
// A template is built in a temporary directory and renamed into place
// when complete: a build that is killed leaves a directory that the next
// build removes, never a template that is used.

// ErrTemplate is returned when a data template cannot be built or used;
// the caller initializes the generation the usual way instead.
var ErrTemplate = errors.New("data directory template")

// templateVersion names how a template is made; bump it when that changes
// (templates of another version are rebuilt).
const templateVersion = 1

const (
	templateTar       = "data.tar"
	templateMeta      = "template.json"
	templateTmpPrefix = ".building-"
	// VolumeMount is where a database container mounts its volume: the
	// parent of DataDir.
	VolumeMount = "/var/lib/postgresql/data"
)

// Template is a data directory initialized once, kept as a tar file.
type Template struct {
	// Dir holds data.tar and template.json.
	Dir           string    `json:"-"`
	Version       int       `json:"version"`
	Image         string    `json:"image"`
	ImageID       string    `json:"image_id"`
	User          string    `json:"user"`
	Database      string    `json:"database"`
	ServerVersion string    `json:"server_version"`
	TarBytes      int64     `json:"tar_bytes"`
	TarSHA256     string    `json:"tar_sha256"`
	CreatedAt     time.Time `json:"created_at"`
}

// Templates is a directory of data templates (the state store's
// TemplatesDir), one per image ID, superuser and database name.
type Templates struct {
	Root   string
	Engine *engine.Engine
}

// TemplateRequest says which template is wanted, and how to build it.
type TemplateRequest struct {
	Image, ImageID, User, Database string
	// Name is the throwaway container that initializes it; Labels go on it.
	Name   string
	Labels map[string]string
	// ShmSize and ReadyTimeout as for a Server.
	ShmSize      int64
	ReadyTimeout time.Duration
}

func (r TemplateRequest) key() string {
	h := sha256.Sum256([]byte(fmt.Sprintf("v%d\x00%s\x00%s\x00%s", templateVersion, r.ImageID, r.User, r.Database)))
	return hex.EncodeToString(h[:12])
}

// Find returns the complete template for r, or nil when there is none.
func (ts Templates) Find(r TemplateRequest) *Template {
	dir := filepath.Join(ts.Root, r.key())
	var t Template
	if err := fsutil.ReadJSON(filepath.Join(dir, templateMeta), &t); err != nil {
		return nil
	}
	t.Dir = dir
	st, err := os.Stat(filepath.Join(dir, templateTar))
	if err != nil || st.Size() != t.TarBytes || t.Version != templateVersion ||
		t.ImageID != r.ImageID || t.User != r.User || t.Database != r.Database {
		return nil
	}
	return &t
}

// Discard removes a template (one that failed to fill a volume), so that
// the next run builds it again.
func (ts Templates) Discard(t *Template) error {
	if t == nil || t.Dir == "" || filepath.Dir(t.Dir) != filepath.Clean(ts.Root) {
		return nil
	}
	return os.RemoveAll(t.Dir)
}

// Ensure returns the template for r, building it when missing: the image's
// entrypoint initializes a data directory in a throwaway container (its
// network the default bridge, nothing published, a random password that
// is forgotten), the server is shut down cleanly, and the data directory
// is copied out into the templates directory, atomically. Templates of
// other images are removed once the new one is in place. Only one process
// builds at a time: when another holds the templates' lock, Ensure returns
// an error wrapping ErrTemplate at once.
func (ts Templates) Ensure(ctx context.Context, r TemplateRequest) (t *Template, built bool, err error) {
	if t := ts.Find(r); t != nil {
		return t, false, nil
	}
	l, err := lock.Acquire(filepath.Join(ts.Root, "lock"), "build a data template")
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	defer l.Release()
	if t := ts.Find(r); t != nil {
		return t, false, nil
	}
	// What a killed build left: its directory, its container.
	if err := ts.removeBuilding(); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := ts.Engine.RemoveContainer(cctx, r.Name, true); err != nil && !errors.Is(err, engine.ErrNotFound) {
			// Left for the next build, which removes it first.
			_ = err
		}
	}
	cleanup()
	defer cleanup()

	tmp, err := os.MkdirTemp(ts.Root, templateTmpPrefix)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed

	t = &Template{Version: templateVersion, Image: r.Image, ImageID: r.ImageID, User: r.User, Database: r.Database}
	if t.ServerVersion, err = ts.initialize(ctx, r); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if t.TarBytes, t.TarSHA256, err = ts.copyOut(ctx, r.Name, filepath.Join(tmp, templateTar)); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	t.CreatedAt = time.Now().UTC()
	if err := fsutil.WriteJSONAtomic(filepath.Join(tmp, templateMeta), t, 0o600); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if err := fsutil.SyncDir(tmp); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	// Older templates (another image, user or database) go first.
	if err := ts.removeAll(); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	t.Dir = filepath.Join(ts.Root, r.key())
	if err := os.Rename(tmp, t.Dir); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if err := fsutil.SyncDir(ts.Root); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	return t, true, nil
}

// removeBuilding removes the directories of builds that did not finish.
func (ts Templates) removeBuilding() error {
	entries, err := os.ReadDir(ts.Root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), templateTmpPrefix) {
			if err := os.RemoveAll(filepath.Join(ts.Root, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeAll removes every complete template.
func (ts Templates) removeAll() error {
	entries, err := os.ReadDir(ts.Root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if err := os.RemoveAll(filepath.Join(ts.Root, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// initialize runs the image's entrypoint in container r.Name until the
// real server answers on its loopback address (the entrypoint's temporary
// init server listens on no TCP socket), asks it for its version, and
// shuts it down cleanly (the image's stop signal; exit code 0).
func (ts Templates) initialize(ctx context.Context, r TemplateRequest) (string, error) {
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return "", err
	}
	spec := engine.ContainerSpec{
		Name: r.Name, Image: r.Image, Cmd: []string{"postgres"},
		Env: []string{
			"POSTGRES_PASSWORD=" + hex.EncodeToString(pw),
			"POSTGRES_USER=" + r.User,
			"POSTGRES_DB=" + r.Database,
			"PGDATA=" + DataDir,
		},
		Labels: r.Labels, StopTimeout: time.Minute, ShmSize: r.ShmSize,
	}
	if _, err := ts.Engine.CreateContainer(ctx, spec); err != nil {
		return "", err
	}
	if err := ts.Engine.StartContainer(ctx, r.Name); err != nil {
		return "", err
	}
	err := poll(ctx, r.ReadyTimeout, 50*time.Millisecond, 500*time.Millisecond, func() (bool, error) {
		code, err := ts.Engine.Exec(ctx, r.Name, []string{"pg_isready", "-q", "-h", "127.0.0.1", "-p", fmt.Sprint(Port),
			"-U", r.User, "-d", r.Database}, engine.ExecOptions{User: "postgres"})
		if err == nil && code == 0 {
			return true, nil
		}
		if err != nil && !errors.Is(err, engine.ErrNotRunning) {
			return false, err
		}
		c, err := ts.Engine.InspectContainer(ctx, r.Name)
		if err != nil {
			return false, err
		}
		if c.State != "running" && c.State != "created" {
			l, _ := ts.Engine.Logs(ctx, r.Name, 15)
			return false, fmt.Errorf("container %s is %s (exit code %d); its log:\n%s", r.Name, c.State, c.ExitCode, l)
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("initializing the data directory: %w", err)
	}
	res, err := ts.Engine.ExecCapture(ctx, r.Name, []string{"psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
		"--username", r.User, "--dbname", r.Database, "-c", "SHOW server_version"}, engine.ExecOptions{User: "root"})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("psql exit %d: %s", res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	if err != nil {
		return "", fmt.Errorf("asking the initialized server for its version: %w", err)
	}
	version := strings.TrimSpace(res.Stdout)
	if err := ts.Engine.StopContainer(ctx, r.Name, time.Minute); err != nil {
		return "", err
	}
	c, err := ts.Engine.InspectContainer(ctx, r.Name)
	if err != nil {
		return "", err
	}
	if c.State != "exited" || c.ExitCode != 0 {
		return "", fmt.Errorf("the initialized server did not shut down cleanly (%s, exit code %d)", c.State, c.ExitCode)
	}
	return version, nil
}

// copyOut writes the stopped container's data directory to dst as a tar
// file (fsynced), checks that it holds a data directory and nothing else,
// and returns its size and SHA-256.
func (ts Templates) copyOut(ctx context.Context, name, dst string) (int64, string, error) {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := ts.Engine.CopyFrom(ctx, name, DataDir, io.MultiWriter(f, h))
	if err != nil {
		return 0, "", err
	}
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	if err := f.Close(); err != nil {
		return 0, "", err
	}
	if err := checkTemplateTar(dst); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkTemplateTar checks that the tar file holds one data directory,
// pgdata/ with its PG_VERSION, and nothing outside it.
func checkTemplateTar(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	root := path.Base(DataDir)
	tr := tar.NewReader(f)
	version := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the copied data directory: %w", err)
		}
		name := path.Clean(hdr.Name)
		if name != root && !strings.HasPrefix(name, root+"/") {
			return fmt.Errorf("the copied data directory holds %q, outside %s/", hdr.Name, root)
		}
		if name == root+"/PG_VERSION" && hdr.Typeflag == tar.TypeReg {
			version = true
		}
	}
	if !version {
		return fmt.Errorf("the copied data directory has no PG_VERSION")
	}
	return nil
}

// CreateFromTemplateForBulkLoad is CreateForBulkLoad with the volume filled
// from tpl before the container first starts, so that the entrypoint skips
// initdb: a new random password (written 0600 to PasswordFile) replaces
// the template's over the local socket once the server runs, before
// anything can reach it over the network with a password (WaitReady
// does). Errors wrap ErrTemplate when the template is at fault; the caller
// removes what was made (Remove) and may create the server the usual way.
func (s *Server) CreateFromTemplateForBulkLoad(ctx context.Context, archive string, tpl *Template, bulk []Setting) error {
	if tpl.User != s.User || tpl.Database != s.Database {
		return fmt.Errorf("%w: made for user %q and database %q, not %q and %q", ErrTemplate, tpl.User, tpl.Database, s.User, s.Database)
	}
	f, err := os.Open(filepath.Join(tpl.Dir, templateTar))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	defer f.Close()
	fill := func(ctx context.Context) error {
		h := sha256.New()
		if err := s.Engine.CopyTo(ctx, s.Name, VolumeMount, io.TeeReader(f, h)); err != nil {
			return fmt.Errorf("%w: filling the volume: %w", ErrTemplate, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != tpl.TarSHA256 {
			return fmt.Errorf("%w: %s changed since it was made (sha256 %s, want %s)", ErrTemplate, f.Name(), got, tpl.TarSHA256)
		}
		return nil
	}
	if err := s.create(ctx, archive, bulk, fill); err != nil {
		return err
	}
	password, err := s.Password()
	if err != nil {
		return err
	}
	return s.setPassword(ctx, password)
}

// setPassword replaces the superuser's password with password's SCRAM
// verifier (the password itself never reaches the server), over the
// container's local socket, waiting (ReadyTimeout at most) for the server
// to accept connections there.
func (s *Server) setPassword(ctx context.Context, password string) error {
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", pgx.Identifier{s.User}.Sanitize(), verifier)
	var out strings.Builder
	err = poll(ctx, s.ReadyTimeout, 20*time.Millisecond, 200*time.Millisecond, func() (bool, error) {
		out.Reset()
		code, err := s.Engine.Exec(ctx, s.Name, []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
			"--username", s.User, "--dbname", s.Database},
			engine.ExecOptions{User: "root", Stdin: strings.NewReader(sql + ";\n"), Stdout: &out, Stderr: &out})
		switch {
		case err != nil:
			return false, err
		case code == 0:
			return true, nil
		case code != 2:
			// psql exits 2 when it cannot connect (the server is
			// starting); anything else is final.
			return false, fmt.Errorf("%w: psql exit %d: %s", ErrTemplate, code, strings.TrimSpace(out.String()))
		}
		if err := s.Running(ctx); err != nil {
			return false, fmt.Errorf("%w: the server started from the template stopped: %w (container log:\n%s)", ErrTemplate, err, s.LogTail(ctx, 15))
		}
		return false, nil
	})
	if errors.Is(err, errPollTimeout) {
		err = fmt.Errorf("%w: %w: %w: %s", ErrTemplate, ErrNotReady, err, strings.TrimSpace(out.String()))
	}
	if err != nil {
		return fmt.Errorf("setting the new generation's password: %w", err)
	}
	return nil
}

// scramVerifier is PostgreSQL's stored form of a SCRAM-SHA-256 password
// (RFC 5802, 7677; what ALTER ROLE … PASSWORD stores when given a
// password): SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}
