package testenv_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// The locally built image honours the official postgres image's contract well
// enough for Lifeboat: password auth over TCP, Heroku's extensions, a real
// restore, pg_restore inside, and a fast docker stop.
func TestPostgresImage(t *testing.T) {
	t.Parallel()
	image := testenv.RequirePostgresImage(t)
	docker, err := exec.LookPath("docker")
	if err != nil {
		testenv.Missing(t, "docker CLI not found: install docker.io")
	}

	// An archive to restore, shaped like a Heroku one.
	local := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, local, "src", 50)
	archive := filepath.Join(t.TempDir(), "src.dump")
	local.DumpFile(t, "src", archive, "--exclude-schema=heroku_ext")

	name := fmt.Sprintf("lifeboat-testenv-%d-%d", os.Getpid(), time.Now().UnixNano())
	port := testenv.FreePort(t)
	const password = "s3cret-test-pw"
	run := exec.Command(docker, "run", "-d", "--name", name,
		"--label", "io.lifeboat.test=testenv",
		"-e", "POSTGRES_PASSWORD", // value from the environment, not argv
		"-e", "POSTGRES_DB=standby",
		"-p", "127.0.0.1:"+strconv.Itoa(port)+":5432",
		image)
	run.Env = append(os.Environ(), "POSTGRES_PASSWORD="+password)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", "-v", name).Run() })

	pg := &testenv.Postgres{Host: "127.0.0.1", Port: port, User: "postgres", Password: password, BinDir: local.BinDir}
	waitForPostgres(t, pg, "standby", 60*time.Second)

	pg.Exec(t, "standby", `CREATE EXTENSION amcheck;`)
	rows := pg.Query(t, "standby", `SELECT current_setting('server_version_num')::int / 10000, current_setting('lc_collate'), current_setting('server_encoding')`)
	if len(rows) != 1 || rows[0][0] != "15" || rows[0][2] != "UTF8" {
		t.Errorf("server: %q", rows)
	}
	if out, err := exec.Command(filepath.Join(local.BinDir, "psql"), "-XAtc", "select 1",
		strings.Replace(pg.URL("standby"), password, "wrong", 1)).CombinedOutput(); err == nil {
		t.Errorf("a wrong password was accepted: %s", out)
	}

	pg.Exec(t, "standby", `CREATE SCHEMA heroku_ext;`)
	restore := exec.Command(filepath.Join(local.BinDir, "pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "-d", pg.URL("standby"), archive)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore into the container: %v\n%s", err, out)
	}
	if got, want := pg.RowCounts(t, "standby"), testenv.HerokuLikeRowCounts(50); !maps.Equal(got, want) {
		t.Errorf("restored RowCounts = %v\nwant %v", got, want)
	}

	out, err := exec.Command(docker, "exec", "-u", "postgres", name, "pg_restore", "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pg_restore (PostgreSQL) 15.") {
		t.Errorf("docker exec pg_restore --version: %v: %s", err, out)
	}

	start := time.Now()
	if out, err := exec.Command(docker, "stop", name).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("docker stop took %v: postgres is not PID 1 or ignores SIGINT", d)
	}
	out, _ = exec.Command(docker, "inspect", "-f", "{{.State.ExitCode}}", name).CombinedOutput()
	if strings.TrimSpace(string(out)) != "0" {
		t.Errorf("exit code after docker stop = %s, want 0", out)
	}
}

func waitForPostgres(t *testing.T, pg *testenv.Postgres, db string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cmd := exec.Command(filepath.Join(pg.BinDir, "pg_isready"), "-q", "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-d", db)
		if cmd.Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on port %d not ready after %v", pg.Port, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRequireDocker(t *testing.T) {
	testenv.RequireDocker(t)
}
