package dump

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// This file runs a real, throwaway PostgreSQL cluster and real pg_dump to
// produce the archives the tests read. Nothing here is faked.

const fixtureDB = "lifeboat_fixture"

// dumpTZ is the time zone pg_dump runs in: a zone far from UTC and without
// daylight saving time, so that the test can tell local from UTC time.
const dumpTZ = "Asia/Kolkata"

// fixtureSQL is a small application database in the shape of a Heroku
// one: extensions in heroku_ext, application schemas, a Rails-style table
// in public, tables with rows, an empty table, serial and identity
// sequences, a free-standing sequence, views, a materialized view, a
// function, a trigger and a large object.
const fixtureSQL = `
CREATE SCHEMA heroku_ext;
CREATE EXTENSION pg_trgm WITH SCHEMA heroku_ext;
CREATE EXTENSION citext WITH SCHEMA heroku_ext;
CREATE EXTENSION hstore WITH SCHEMA heroku_ext;
CREATE SCHEMA app;
CREATE SCHEMA billing;

CREATE TABLE public.schema_migrations (version text PRIMARY KEY);
INSERT INTO public.schema_migrations VALUES ('20240101000000'), ('20240201000000');

CREATE TABLE app.users (
    id serial PRIMARY KEY,
    email heroku_ext.citext NOT NULL UNIQUE,
    name text NOT NULL,
    attrs heroku_ext.hstore,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_name_trgm ON app.users USING gin (name heroku_ext.gin_trgm_ops);
INSERT INTO app.users (email, name, attrs)
    SELECT 'user' || g || '@example.com', 'User ' || g, heroku_ext.hstore('k', g::text)
    FROM generate_series(1, 50) g;

CREATE TABLE app.events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES app.users (id),
    kind text NOT NULL,
    payload jsonb
);
INSERT INTO app.events (user_id, kind, payload)
    SELECT (g % 50) + 1, 'login', jsonb_build_object('n', g) FROM generate_series(1, 200) g;

CREATE TABLE app.audit_log (id serial PRIMARY KEY, note text);

CREATE FUNCTION app.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER users_touch BEFORE UPDATE ON app.users
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
CREATE VIEW app.active_users AS SELECT id, email FROM app.users WHERE name <> '';

CREATE SEQUENCE billing.invoice_number_seq START 1000;
CREATE TABLE billing.invoices (
    id serial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES app.users (id),
    number bigint NOT NULL DEFAULT nextval('billing.invoice_number_seq'),
    amount_cents integer NOT NULL CHECK (amount_cents >= 0)
);
INSERT INTO billing.invoices (user_id, amount_cents)
    SELECT (g % 50) + 1, g * 100 FROM generate_series(1, 30) g;
CREATE VIEW billing.revenue AS SELECT sum(amount_cents) AS total FROM billing.invoices;
CREATE MATERIALIZED VIEW billing.revenue_by_user AS
    SELECT user_id, sum(amount_cents) AS total FROM billing.invoices GROUP BY user_id;

SELECT lo_from_bytea(0, convert_to('hello, large object', 'UTF8'));
`

// tinySQL is the database of the small archives committed as fuzz seeds.
const tinySQL = `
CREATE SCHEMA app;
CREATE TABLE app.t (id serial PRIMARY KEY, v text);
INSERT INTO app.t (v) VALUES ('a'), ('b');
SELECT lo_from_bytea(0, 'lo');
`

// fixture holds every archive the tests read, produced once per test
// binary run by real pg_dump against a real cluster.
type fixture struct {
	major int // major version of the installed PostgreSQL

	file        []byte // pg_dump -Fc -f file: seekable, data offsets set
	pipe        []byte // pg_dump -Fc to a pipe: offsets not set
	uncompress  []byte // pg_dump -Fc -Z0 -f file
	noHerokuExt []byte // pg_dump -Fc -N heroku_ext (Heroku's shape)
	appOnly     []byte // pg_dump -Fc -n app (a partial dump)
	schemaOnly  []byte // pg_dump -Fc --schema-only
	plain       []byte // pg_dump -Fp: plain SQL
	tar         []byte // pg_dump -Ft
	dirTOC      []byte // toc.dat of pg_dump -Fd
	tinyFile    []byte // tinySQL, -Fc -f file
	tinyPipe    []byte // tinySQL, -Fc -Z0 to a pipe

	restoreList string // pg_restore -l of file
	started     time.Time
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
)

// errNoPostgres: PostgreSQL's programs are not on this machine.
var errNoPostgres = errors.New("no PostgreSQL")

// getFixture builds the fixture on first use. These tests are the proof
// that the reader reads what pg_dump really writes: a missing PostgreSQL
// skips them only where LIFEBOAT_REQUIRE_DEPS is not 1 (scripts/test.sh
// sets it), and any other trouble building the fixture fails them.
func getFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { fixtureVal, fixtureErr = buildFixture() })
	if errors.Is(fixtureErr, errNoPostgres) {
		testenv.Missing(t, "building the pg_dump fixture: %v", fixtureErr)
	}
	if fixtureErr != nil {
		t.Fatalf("building the pg_dump fixture: %v", fixtureErr)
	}
	return fixtureVal
}

// isFuzzWorker reports whether this process is a worker of `go test
// -fuzz`: workers get their inputs from the coordinator and need no seeds.
func isFuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

// pgBinDir finds the PostgreSQL server binaries: $LIFEBOAT_PG_BINDIR, else
// the newest /usr/lib/postgresql/*/bin (Debian), else the directory of
// initdb on PATH.
func pgBinDir() (string, error) {
	need := []string{"initdb", "pg_ctl", "postgres", "psql", "pg_dump", "pg_restore"}
	complete := func(dir string) bool {
		for _, n := range need {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("LIFEBOAT_PG_BINDIR"); dir != "" {
		if !complete(dir) {
			return "", fmt.Errorf("%w: LIFEBOAT_PG_BINDIR=%s lacks one of %v", errNoPostgres, dir, need)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOfDir(dirs[i]) > versionOfDir(dirs[j]) })
	for _, dir := range dirs {
		if complete(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && complete(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w: PostgreSQL server binaries (%s) not found: run scripts/test-deps.sh "+
		"(or set LIFEBOAT_PG_BINDIR)", errNoPostgres, strings.Join(need, ", "))
}

func versionOfDir(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// cluster is a running throwaway PostgreSQL cluster.
type cluster struct {
	bin  string
	base string // owns data/, the socket and the log
	port int
	env  []string
}

func buildFixture() (*fixture, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	c, err := startCluster(bin)
	if err != nil {
		return nil, err
	}
	defer c.stop()

	fx := &fixture{started: time.Now()}
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("postgres --version: %w", err)
	}
	m := regexp.MustCompile(`(\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		return nil, fmt.Errorf("postgres --version said %q", out)
	}
	fx.major, _ = strconv.Atoi(m[1])

	if err := c.psql("postgres", "CREATE DATABASE "+fixtureDB+"; CREATE DATABASE tiny;"); err != nil {
		return nil, err
	}
	if err := c.psql(fixtureDB, fixtureSQL); err != nil {
		return nil, err
	}
	if err := c.psql("tiny", tinySQL); err != nil {
		return nil, err
	}

	steps := []struct {
		dst  *[]byte
		db   string
		file bool
		args []string
	}{
		{&fx.file, fixtureDB, true, []string{"-Fc"}},
		{&fx.pipe, fixtureDB, false, []string{"-Fc"}},
		{&fx.uncompress, fixtureDB, true, []string{"-Fc", "-Z0"}},
		{&fx.noHerokuExt, fixtureDB, true, []string{"-Fc", "-N", "heroku_ext"}},
		{&fx.appOnly, fixtureDB, true, []string{"-Fc", "-n", "app"}},
		{&fx.schemaOnly, fixtureDB, true, []string{"-Fc", "--schema-only"}},
		{&fx.plain, fixtureDB, false, []string{"-Fp"}},
		{&fx.tar, fixtureDB, true, []string{"-Ft"}},
		{&fx.tinyFile, "tiny", true, []string{"-Fc"}},
		{&fx.tinyPipe, "tiny", false, []string{"-Fc", "-Z0"}},
	}
	for _, s := range steps {
		if *s.dst, err = c.pgDump(s.db, s.file, s.args...); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(c.base, "dirdump")
	if _, err := c.run("pg_dump", append(c.connArgs(fixtureDB), "-Fd", "-f", dir)...); err != nil {
		return nil, err
	}
	if fx.dirTOC, err = os.ReadFile(filepath.Join(dir, "toc.dat")); err != nil {
		return nil, err
	}

	f := filepath.Join(c.base, "list.dump")
	if err := os.WriteFile(f, fx.file, 0o600); err != nil {
		return nil, err
	}
	list, err := c.run("pg_restore", "-l", f)
	if err != nil {
		return nil, err
	}
	fx.restoreList = string(list)
	return fx, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startCluster initdb's a cluster in a fresh temporary directory and starts
// it on 127.0.0.1 with its socket in that directory. The server refuses
// to run as root, so as root it runs as the postgres user.
func startCluster(bin string) (*cluster, error) {
	base, err := os.MkdirTemp("", "lifeboat-dump-pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, base: base}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "TZ=") {
			c.env = append(c.env, kv)
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(base)
			return nil, fmt.Errorf("running as root needs a postgres user for the server: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			os.RemoveAll(base)
			return nil, err
		}
	}
	if err := os.Chmod(base, 0o755); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	data := filepath.Join(base, "data")
	if _, err := c.server("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			os.RemoveAll(base)
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off", c.port, base)
		_, err = c.server("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(base, "server.log"), "-w", "-t", "60", "start")
		if err == nil {
			return c, nil
		}
		if attempt == 2 { // the port may have been taken in between
			log, _ := os.ReadFile(filepath.Join(base, "server.log"))
			os.RemoveAll(base)
			return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
		}
	}
}

func (c *cluster) stop() {
	_, _ = c.server("pg_ctl", "-D", filepath.Join(c.base, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.base)
}

// server runs a server-side binary, as the postgres user when we are root.
func (c *cluster) server(name string, args ...string) ([]byte, error) {
	argv := append([]string{filepath.Join(c.bin, name)}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.base
	cmd.Env = c.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s%s", strings.Join(argv, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// run runs a client binary as ourselves.
func (c *cluster) run(name string, args ...string) ([]byte, error) {
	return c.runEnv(nil, name, args...)
}

func (c *cluster) runEnv(env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.base
	cmd.Env = append(append([]string{}, c.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout // a pipe: pg_dump cannot seek it
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

func (c *cluster) connArgs(db string) []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-d", db}
}

func (c *cluster) psql(db, sql string) error {
	f := filepath.Join(c.base, "load.sql")
	if err := os.WriteFile(f, []byte(sql), 0o644); err != nil {
		return err
	}
	_, err := c.run("psql", append(c.connArgs(db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", f)...)
	return err
}

// pgDump runs pg_dump in dumpTZ, to a file (seekable) or to a pipe.
func (c *cluster) pgDump(db string, toFile bool, args ...string) ([]byte, error) {
	env := []string{"TZ=" + dumpTZ}
	args = append(c.connArgs(db), args...)
	if !toFile {
		return c.runEnv(env, "pg_dump", args...)
	}
	f, err := os.CreateTemp(c.base, "dump-*")
	if err != nil {
		return nil, err
	}
	f.Close()
	if _, err := c.runEnv(env, "pg_dump", append(args, "-f", f.Name())...); err != nil {
		return nil, err
	}
	return os.ReadFile(f.Name())
}
