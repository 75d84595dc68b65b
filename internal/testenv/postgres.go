package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Postgres is a throw-away local Postgres cluster started by [StartPostgres]:
// trust authentication, listening on 127.0.0.1 only, fsync off. It exists to
// produce real pg_dump archives and to compare databases; restores under test
// go to the postgres container ([PostgresImage]).
type Postgres struct {
	// Host is "127.0.0.1".
	Host string
	// Port is the TCP port the server listens on.
	Port int
	// User is the superuser, "postgres".
	User string
	// Password is sent (as PGPASSWORD, never as an argument) when set. Empty
	// for clusters started by StartPostgres (trust authentication); set it to
	// point the helpers at another server, such as a container of
	// PostgresImage published on 127.0.0.1.
	Password string
	// BinDir holds the server and client programs (initdb, pg_dump, psql…):
	// $LIFEBOAT_PG_BINDIR or /usr/lib/postgresql/<newest major>/bin.
	BinDir string
	// SocketDir is the server's Unix socket directory.
	SocketDir string
	// DataDir is the cluster's data directory.
	DataDir string

	proc *process
}

// pgOSUser is the OS account the server runs as when the tests run as root
// (initdb and postgres refuse to run as root).
const pgOSUser = "postgres"

// postgresBinDir finds the newest /usr/lib/postgresql/<major>/bin with initdb.
func postgresBinDir() string {
	if d := os.Getenv("LIFEBOAT_PG_BINDIR"); d != "" {
		return d
	}
	entries, _ := os.ReadDir("/usr/lib/postgresql")
	best, bestMajor := "", -1
	for _, e := range entries {
		major, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/usr/lib/postgresql", e.Name(), "bin")
		if major > bestMajor && isExecutable(filepath.Join(dir, "initdb")) {
			best, bestMajor = dir, major
		}
	}
	return best
}

// RequirePostgres checks that PostgreSQL's server programs are here and
// returns their directory; when they are not, the test ends (Missing).
// Fixtures built once (sync.Once) call it first, so that every test that
// shares them is skipped, not only the first.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	binDir := postgresBinDir()
	if binDir == "" || !isExecutable(filepath.Join(binDir, "initdb")) {
		Missing(t, "testenv: postgres server programs not found (no /usr/lib/postgresql/*/bin/initdb): %s", depsHint)
	}
	return binDir
}

// StartPostgres initialises a cluster in a fresh temporary directory, starts
// it on 127.0.0.1:<free port> (socket in that directory) and waits until it
// accepts connections; t.Cleanup stops it with an immediate shutdown and
// removes the directory. When the tests run as root, initdb and the server run
// as the OS user postgres (created by Debian's postgresql package), through
// setpriv. The programs come from BinDir; if they are missing the test fails.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	binDir := RequirePostgres(t)
	runAs, err := pgRunAs()
	if err != nil {
		t.Fatalf("testenv: %v: %s", err, depsHint)
	}

	// Not under t.TempDir(): its parents are mode 0700 and owned by root,
	// unreachable for the postgres user. /tmp is.
	base, err := os.MkdirTemp("", "lifeboat-pg-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p := &Postgres{
		Host:      "127.0.0.1",
		User:      "postgres",
		BinDir:    binDir,
		SocketDir: filepath.Join(base, "socket"),
		DataDir:   filepath.Join(base, "data"),
	}
	if err := os.Mkdir(p.SocketDir, 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if runAs != nil {
		for _, d := range []string{base, p.SocketDir} {
			if err := os.Chown(d, runAs.uid, runAs.gid); err != nil {
				t.Fatalf("testenv: %v", err)
			}
		}
	}

	initdb := runAs.command(filepath.Join(binDir, "initdb"),
		"-D", p.DataDir, "-U", p.User, "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.Env = append(minimalEnv(), "HOME="+base)
	if _, err := runCommand(initdb); err != nil {
		t.Fatalf("testenv: initdb: %v", err)
	}

	t.Cleanup(p.stop)
	for attempt := 0; attempt < 5; attempt++ {
		p.Port = FreePort(t)
		if err = p.start(runAs, base); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: starting postgres: %v\nlog (%s):\n%s", err, filepath.Join(base, "postgres.log"),
			tailFile(filepath.Join(base, "postgres.log"), 40))
	}
	return p
}

func (p *Postgres) start(runAs *osUser, base string) error {
	cmd := runAs.command(filepath.Join(p.BinDir, "postgres"),
		"-D", p.DataDir,
		"-p", strconv.Itoa(p.Port),
		"-k", p.SocketDir,
		"-c", "listen_addresses="+p.Host,
		// A test cluster: speed over durability.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "logging_collector=off",
		"-c", "max_connections=40",
	)
	cmd.Env = append(minimalEnv(), "HOME="+base)
	proc, err := startProcess("postgres", cmd, filepath.Join(base, "postgres.log"))
	if err != nil {
		return err
	}
	isready := filepath.Join(p.BinDir, "pg_isready")
	err = waitUntil(proc, 60*time.Second, func() bool {
		c := exec.Command(isready, "-q", "-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", "postgres")
		c.Env = minimalEnv()
		return c.Run() == nil
	})
	if err != nil {
		proc.stop(syscall.SIGQUIT, 5*time.Second)
		if isAddrInUse(proc.logTail()) {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return err
	}
	p.proc = proc
	return nil
}

// stop is an immediate shutdown (what pg_ctl stop -m immediate sends:
// SIGQUIT to the postmaster), then SIGKILL to the group after 10s.
func (p *Postgres) stop() {
	if p.proc != nil {
		p.proc.stop(syscall.SIGQUIT, 10*time.Second)
	}
}

// osUser is the account the server programs run as; nil means the current one.
type osUser struct {
	name     string
	uid, gid int
}

var (
	pgRunAsOnce sync.Once
	pgRunAsUser *osUser
	pgRunAsErr  error
)

// pgRunAs returns the postgres OS account when running as root, else nil.
func pgRunAs() (*osUser, error) {
	pgRunAsOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		u, err := user.Lookup(pgOSUser)
		if err != nil {
			pgRunAsErr = fmt.Errorf("running as root, and there is no %q OS user to run postgres as (%v)", pgOSUser, err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if _, err := exec.LookPath("setpriv"); err != nil {
			pgRunAsErr = errors.New("running as root, and setpriv (util-linux) is not on PATH")
			return
		}
		pgRunAsUser = &osUser{name: pgOSUser, uid: uid, gid: gid}
	})
	return pgRunAsUser, pgRunAsErr
}

// command returns a command that runs program as u. setpriv execs the
// program (no intermediate process) and re-arms the parent-death signal that
// the change of user clears.
func (u *osUser) command(program string, args ...string) *exec.Cmd {
	if u == nil {
		return exec.Command(program, args...)
	}
	pre := []string{
		"--reuid=" + strconv.Itoa(u.uid), "--regid=" + strconv.Itoa(u.gid), "--init-groups",
		"--pdeathsig=" + signalName(syscall.SIGKILL),
		"--", program,
	}
	return exec.Command("setpriv", append(pre, args...)...)
}

// client returns a command running one of the client programs (psql,
// pg_dump…) as the current user against this server, with no PG* variable of
// the caller's environment in the way.
func (p *Postgres) client(program string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.BinDir, program), args...)
	cmd.Env = append(minimalEnv(),
		"PGHOST="+p.Host,
		"PGPORT="+strconv.Itoa(p.Port),
		"PGUSER="+p.User,
		"PGCONNECT_TIMEOUT=10",
	)
	if p.Password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+p.Password)
	}
	return cmd
}

// Exec runs sql (one or more statements) in database db with psql
// -v ON_ERROR_STOP=1: the first error fails the test. Statements run one by
// one (not in one transaction), so CREATE DATABASE and VACUUM work.
func (p *Postgres) Exec(t testing.TB, db, sql string) {
	t.Helper()
	cmd := p.client("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", "-")
	cmd.Stdin = strings.NewReader(sql)
	if _, err := runCommand(cmd); err != nil {
		t.Fatalf("testenv: psql on %s: %v", db, err)
	}
}

// Query runs one query in database db and returns its rows, each a slice of
// columns as psql prints them unaligned (NULL is ""). Fails the test on error.
func (p *Postgres) Query(t testing.TB, db, sql string) [][]string {
	t.Helper()
	cmd := p.client("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\x1f", "-d", db, "-c", sql)
	out, err := runCommand(cmd)
	if err != nil {
		t.Fatalf("testenv: psql on %s: %v", db, err)
	}
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), "\x1f"))
	}
	return rows
}

// CreateDB creates an empty database named name.
func (p *Postgres) CreateDB(t testing.TB, name string) {
	t.Helper()
	p.Exec(t, "postgres", "CREATE DATABASE "+quoteIdent(name)+";")
}

// Dump returns a custom-format archive of database db (pg_dump -Fc to
// stdout); extraArgs are added to pg_dump's arguments (e.g. "--no-owner",
// "--exclude-schema=heroku_ext", "-Z0").
func (p *Postgres) Dump(t testing.TB, db string, extraArgs ...string) []byte {
	t.Helper()
	args := append([]string{"-Fc", "-d", db}, extraArgs...)
	out, err := runCommand(p.client("pg_dump", args...))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}

// DumpFile writes a custom-format archive of database db to path
// (pg_dump -Fc -f path); extraArgs as for [Postgres.Dump].
func (p *Postgres) DumpFile(t testing.TB, db, path string, extraArgs ...string) {
	t.Helper()
	args := append([]string{"-Fc", "-d", db, "-f", path}, extraArgs...)
	if _, err := runCommand(p.client("pg_dump", args...)); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// rowCountsSQL counts the rows of every ordinary table outside the system
// schemas in one statement (query_to_xml runs a count per table).
const rowCountsSQL = `
SELECT n.nspname || '.' || c.relname,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY 1`

// RowCounts returns the exact row count (count(*)) of every ordinary table
// of database db, keyed "schema.table", system schemas excluded. Views,
// materialized views and partitioned parents are not tables here.
func (p *Postgres) RowCounts(t testing.TB, db string) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, row := range p.Query(t, db, rowCountsSQL) {
		if len(row) != 2 {
			t.Fatalf("testenv: RowCounts: unexpected row %q", row)
		}
		n, err := strconv.ParseInt(row[1], 10, 64)
		if err != nil {
			t.Fatalf("testenv: RowCounts: %s: %v", row[0], err)
		}
		counts[row[0]] = n
	}
	return counts
}

// URL returns a connection URL for database db, for pgx or psql:
// "postgres://postgres@127.0.0.1:<port>/<db>?sslmode=disable" (with the
// password, if set).
func (p *Postgres) URL(db string) string {
	userinfo := url.User(p.User)
	if p.Password != "" {
		userinfo = url.UserPassword(p.User, p.Password)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     userinfo,
		Host:     fmt.Sprintf("%s:%d", p.Host, p.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
