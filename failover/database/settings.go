package database

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// ErrNotDurable is returned by CheckDurable (and MakeDurable) when the
// server does not run with the settings that make a commit durable.
var ErrNotDurable = errors.New("database server is not running with durable settings")

// Setting is one server setting, given to postgres as -c Name=Value.
type Setting struct {
	Name, Value string
}

// DurableSettings are what a server that serves (or may serve) runs with:
// Postgres' defaults for everything that makes a commit survive a crash,
// and room for checkpoints.
func DurableSettings() []Setting {
	return []Setting{
		{"max_wal_size", "4GB"},
		{"checkpoint_timeout", "15min"},
		{"maintenance_work_mem", "256MB"},
	}
}

// BulkLoadMaxWAL is max_wal_size while restoring: the WAL a bulk load may
// keep before a checkpoint (what pg_restore --jobs 1 writes to it counts
// on the disk, see failover's estimate).
const BulkLoadMaxWAL = 8 << 30

// BulkLoadSettings are what a new generation is restored with: the
// settings of a one-off bulk load into a database that is thrown away if
// anything fails. Nothing is fsynced, no full-page images, commits do not
// wait for the WAL; wal_level=minimal lets pg_restore --jobs skip the WAL
// for the COPY into a table it created (it truncates it in the same
// transaction) and for CREATE INDEX; autovacuum stays out of the way (the
// restore is followed by ANALYZE); checkpoints wait for the end.
// maintenance_work_mem (index builds) is a quarter of memTotal shared by
// jobs, between 64 MB and 1 GB. MakeDurable takes all of it back.
func BulkLoadSettings(memTotal int64, jobs int) []Setting {
	return []Setting{
		{"fsync", "off"},
		{"full_page_writes", "off"},
		{"synchronous_commit", "off"},
		{"wal_level", "minimal"},
		{"max_wal_senders", "0"},
		{"archive_mode", "off"},
		{"autovacuum", "off"},
		{"max_wal_size", strconv.FormatInt(BulkLoadMaxWAL>>30, 10) + "GB"},
		{"checkpoint_timeout", "1h"},
		{"maintenance_work_mem", strconv.FormatInt(MaintenanceWorkMem(memTotal, jobs)>>20, 10) + "MB"},
	}
}

// MaintenanceWorkMem is the maintenance_work_mem of a bulk load with jobs
// parallel index builds on a machine of memTotal bytes: a quarter of the
// memory shared by the jobs, at least 64 MiB, at most 1 GiB (256 MiB when
// the memory is unknown).
func MaintenanceWorkMem(memTotal int64, jobs int) int64 {
	if memTotal <= 0 {
		return 256 << 20
	}
	if jobs < 1 {
		jobs = 1
	}
	m := memTotal / 4 / int64(jobs)
	m = min(max(m, 64<<20), 1<<30)
	return m &^ (1<<20 - 1)
}

// HostMemory is the machine's memory in bytes (MemTotal of /proc/meminfo),
// 0 when unknown. Lifeboat runs on the Docker host it drives.
func HostMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24632356 kB
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil && kb > 0 {
				return kb << 10
			}
		}
	}
	return 0
}

// durableWant are the settings CheckDurable insists on, whatever the image.
var durableWant = map[string]string{
	"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on", "autovacuum": "on",
}

// CreateForBulkLoad is Create with bulk (BulkLoadSettings) in place of the
// durable settings. The server must not serve before MakeDurable.
func (s *Server) CreateForBulkLoad(ctx context.Context, archive string, bulk []Setting) error {
	return s.create(ctx, archive, bulk, nil)
}

// MakeDurable ends a bulk load: CHECKPOINT, a clean shutdown, and the
// container created again on the same volume (same password, archive
// mounted as by Create) with the durable settings, started and ready. What
// the bulk load wrote may still be in the kernel's page cache only (fsync
// was off): SyncData must run, and succeed, before the data is trusted.
func (s *Server) MakeDurable(ctx context.Context, archive string) error {
	err := s.run(ctx, "root", nil, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"--username", s.User, "--dbname", s.Database, "-c", "CHECKPOINT")
	if err != nil {
		return fmt.Errorf("CHECKPOINT after the bulk load: %w", err)
	}
	if err := s.Engine.StopContainer(ctx, s.Name, time.Minute); err != nil {
		return fmt.Errorf("stopping the bulk-load server: %w", err)
	}
	if err := s.Engine.RemoveContainer(ctx, s.Name, false); err != nil {
		return err
	}
	password, err := s.Password()
	if err != nil {
		return err
	}
	if _, err := s.Engine.CreateContainer(ctx, s.Spec(archive, password)); err != nil {
		return err
	}
	if err := s.Engine.StartContainer(ctx, s.Name); err != nil {
		return err
	}
	if _, err := s.WaitReady(ctx); err != nil {
		return fmt.Errorf("after restarting with durable settings: %w", err)
	}
	return nil
}

// SyncData writes every file of the data directory to disk (initdb
// --sync-only, as the postgres user): what PostgreSQL's documentation asks
// for after running with fsync off. The server may run meanwhile.
func (s *Server) SyncData(ctx context.Context) error {
	if err := s.run(ctx, "postgres", nil, "initdb", "--sync-only", "-D", DataDir); err != nil {
		return fmt.Errorf("writing the restored data to disk (initdb --sync-only): %w", err)
	}
	return nil
}

// CheckDurable asks the running server for the settings that make it
// durable: fsync, full_page_writes, synchronous_commit and autovacuum on,
// and none of the bulk load's settings still given on its command line.
// The check is failed (and the error wraps ErrNotDurable) otherwise.
func (s *Server) CheckDurable(ctx context.Context) (report.Check, error) {
	ck := report.Check{Kind: report.KindSettings, Name: "durable settings"}
	u, err := s.URL(ctx)
	if err != nil {
		ck.Detail = err.Error()
		return ck, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u)
	if err != nil {
		ck.Detail = scrub(err, u)
		return ck, fmt.Errorf("%w: %s", ErrNotDurable, ck.Detail)
	}
	defer conn.Close(context.Background())
	var bulk []string
	for _, st := range BulkLoadSettings(0, 1) {
		bulk = append(bulk, st.Name)
	}
	rows, err := conn.Query(cctx, "select name, setting, source from pg_settings where name = any($1) order by name", bulk)
	if err != nil {
		ck.Detail = err.Error()
		return ck, fmt.Errorf("%w: %s", ErrNotDurable, ck.Detail)
	}
	durable := map[string]string{}
	for _, st := range DurableSettings() {
		durable[st.Name] = st.Value
	}
	var seen, wrong []string
	for rows.Next() {
		var name, setting, source string
		if err := rows.Scan(&name, &setting, &source); err != nil {
			ck.Detail = err.Error()
			return ck, fmt.Errorf("%w: %s", ErrNotDurable, ck.Detail)
		}
		want, must := durableWant[name]
		_, ours := durable[name]
		switch {
		case must && setting != want:
			wrong = append(wrong, fmt.Sprintf("%s=%s (want %s)", name, setting, want))
		case !must && !ours && source == "command line":
			wrong = append(wrong, fmt.Sprintf("%s=%s still set on the command line", name, setting))
		}
		if must {
			seen = append(seen, name+"="+setting)
		}
	}
	if err := rows.Err(); err != nil {
		ck.Detail = err.Error()
		return ck, fmt.Errorf("%w: %s", ErrNotDurable, ck.Detail)
	}
	if len(seen) != len(durableWant) {
		wrong = append(wrong, fmt.Sprintf("only %s reported", strings.Join(seen, ", ")))
	}
	if len(wrong) > 0 {
		ck.Detail = strings.Join(wrong, "; ")
		return ck, fmt.Errorf("%w: %s", ErrNotDurable, ck.Detail)
	}
	ck.OK, ck.Detail = true, strings.Join(seen, ", ")
	return ck, nil
}

// DataSize is the data directory's size on disk in bytes (du in the
// container).
func (s *Server) DataSize(ctx context.Context) (int64, error) {
	var out, errOut strings.Builder
	code, err := s.Exec(ctx, []string{"du", "-s", "-B1", DataDir}, &out, &errOut)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errOut.String()))
	}
	if err != nil {
		return 0, fmt.Errorf("size of the data directory: %w", err)
	}
	f := strings.Fields(out.String())
	if len(f) == 0 {
		return 0, fmt.Errorf("size of the data directory: du printed %q", out.String())
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size of the data directory: %w", err)
	}
	return n, nil
}

// WriteBehind writes what a bulk load has written so far to disk while it
// goes on: `sync -f` on the data directory's file system in the container,
// again interval after each pass ends, until ctx ends. With fsync off
// everything pg_restore writes stays dirty in the kernel's page cache (a
// machine with a few GiB of memory holds a whole standby's worth), and
// SyncData would write all of it at the end, after pg_restore; written
// meanwhile, it uses the disk while pg_restore keeps the CPUs busy, and
// SyncData finds little left. Best effort: it returns how many passes
// ended and the last error, for the log; SyncData is what must succeed.
func (s *Server) WriteBehind(ctx context.Context, interval time.Duration) (passes int, err error) {
	for {
		select {
		case <-ctx.Done():
			return passes, err
		case <-time.After(interval):
		}
		xerr := s.run(ctx, "postgres", nil, "sync", "-f", DataDir)
		switch {
		case ctx.Err() != nil:
			return passes, err
		case xerr != nil:
			err = fmt.Errorf("sync -f: %w", xerr)
		default:
			passes++
		}
	}
}
