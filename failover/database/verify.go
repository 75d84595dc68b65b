package database

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// ErrNotReady is returned by WaitReady when the server does not accept a
// real connection in time.
var ErrNotReady = errors.New("database did not become ready")

// ErrVerify is returned by Verify when a check failed or could not run.
var ErrVerify = errors.New("verification failed")

// WaitReady connects to url until a real connection succeeds (and a query
// runs), or timeout passes. It returns the server's version. alive, when
// set, is asked between attempts whether waiting still makes sense (the
// container is still running); its error ends the wait.
func WaitReady(ctx context.Context, url string, timeout time.Duration, alive func(context.Context) error) (string, error) {
	// A server just started accepts connections a few hundred
	// milliseconds later: ask often at first (25 ms, doubling), then
	// every 100 ms.
	var version string
	var last error
	err := poll(ctx, max(timeout, time.Nanosecond), 25*time.Millisecond, 100*time.Millisecond, func() (bool, error) {
		if alive != nil {
			if err := alive(ctx); err != nil {
				return false, fmt.Errorf("%w: %w", ErrNotReady, err)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, url)
		if err == nil {
			err = conn.QueryRow(cctx, "show server_version").Scan(&version)
			conn.Close(cctx)
			if err == nil {
				return true, nil
			}
		}
		last = err
		return false, ctx.Err()
	})
	if errors.Is(err, errPollTimeout) {
		return "", fmt.Errorf("%w within %v: %v", ErrNotReady, timeout, scrub(last, url))
	}
	if err != nil {
		return "", err
	}
	return version, nil
}

// scrub keeps a connection URL (and its password) out of error messages.
func scrub(err error, url string) string {
	if err == nil {
		return ""
	}
	return textsafe.ScrubURL(err.Error(), "database URL", url)
}

// Prepare creates what the archive needs but does not create itself: the
// schemas (Heroku's heroku_ext) and, in them, its extensions. Like Heroku,
// it puts the schemas that hold extensions on the database's search_path,
// so that the app finds their types and operators unqualified (a citext
// comparison with = is case-sensitive otherwise). It connects to url.
func Prepare(ctx context.Context, url, db string, sum dump.Summary) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect: %s", scrub(err, url))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var done []string
	path := []string{`"$user"`, "public"}
	seen := map[string]bool{"public": true}
	for _, e := range sum.Extensions {
		if e.Schema != "" && !seen[e.Schema] && e.Schema != "pg_catalog" {
			seen[e.Schema] = true
			path = append(path, pgx.Identifier{e.Schema}.Sanitize())
		}
	}
	if len(path) > 2 {
		q := "ALTER DATABASE " + pgx.Identifier{db}.Sanitize() + " SET search_path = " + strings.Join(path, ", ")
		if _, err := conn.Exec(ctx, q); err != nil {
			return done, fmt.Errorf("prepare: %s: %w", q, err)
		}
		done = append(done, q)
	}
	for _, s := range sum.SchemasNeeded {
		q := "CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{s}.Sanitize()
		if _, err := conn.Exec(ctx, q); err != nil {
			return done, fmt.Errorf("prepare: %s: %w", q, err)
		}
		done = append(done, q)
	}
	created := map[string]bool{}
	for _, s := range sum.SchemasCreated {
		created[s] = true
	}
	for _, e := range sum.Extensions {
		// When the archive creates the extension's schema itself, creating
		// it here would make the archive's CREATE SCHEMA fail.
		if e.Schema != "" && created[e.Schema] {
			continue
		}
		q := "CREATE EXTENSION IF NOT EXISTS " + pgx.Identifier{e.Name}.Sanitize()
		if e.Schema != "" {
			q += " WITH SCHEMA " + pgx.Identifier{e.Schema}.Sanitize()
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			return done, fmt.Errorf("prepare: %s: %w (is the extension installed in the Postgres image?)", q, err)
		}
		done = append(done, q)
	}
	return done, nil
}

// Check is one of the app's SQL checks: SQL must return one row with one
// value, true.
type Check struct {
	Name string
	SQL  string
}

// VerifyOptions say what to check.
type VerifyOptions struct {
	Summary dump.Summary
	Checks  []Check
	Amcheck bool
	// Parallel is how many queries run at once.
	Parallel int
	// CheckTimeout bounds each of the app's SQL checks.
	CheckTimeout time.Duration
}

// Verify runs every check, fail-closed: a check that cannot run fails. It
// returns all results and the exact row count of every table that has data
// in the archive, and an error wrapping ErrVerify when any check failed.
// It connects to url.
func Verify(ctx context.Context, url string, o VerifyOptions) ([]report.Check, []report.Table, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return []report.Check{}, []report.Table{}, fmt.Errorf("connect: %s", scrub(err, url))
	}
	defer pool.Close()
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = time.Minute
	}
	var (
		mu     sync.Mutex
		checks []report.Check
		tables []report.Table
	)
	add := func(c report.Check) {
		mu.Lock()
		checks = append(checks, c)
		mu.Unlock()
	}

	// Tables with data: each exists; its exact row count is recorded.
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, t := range o.Summary.DataTables {
		wg.Add(1)
		sem <- struct{}{}
		go func(t dump.TableRef) {
			defer wg.Done()
			defer func() { <-sem }()
			name := t.Schema + "." + t.Name
			var n int64
			err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Schema, t.Name}.Sanitize()).Scan(&n)
			if err != nil {
				add(report.Check{Name: "table " + name, Kind: report.KindTable, Detail: "cannot count rows: " + err.Error()})
				return
			}
			mu.Lock()
			tables = append(tables, report.Table{Schema: t.Schema, Name: t.Name, Rows: n})
			mu.Unlock()
			add(report.Check{Name: "table " + name, Kind: report.KindTable, OK: true, Detail: countOf(n, "row")})
		}(t)
	}
	wg.Wait()

	for _, c := range sequenceChecks(ctx, pool) {
		add(c)
	}
	for _, c := range o.Checks {
		add(sqlCheck(ctx, pool, c, o.CheckTimeout))
	}
	if o.Amcheck {
		add(amcheck(ctx, pool))
	}

	sort.SliceStable(checks, func(i, j int) bool {
		if checks[i].Kind != checks[j].Kind {
			return kindOrder(checks[i].Kind) < kindOrder(checks[j].Kind)
		}
		return checks[i].Name < checks[j].Name
	})
	sort.Slice(tables, func(i, j int) bool {
		return tables[i].Schema+"."+tables[i].Name < tables[j].Schema+"."+tables[j].Name
	})
	var failed []string
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c.Name+": "+c.Detail)
		}
	}
	if len(failed) > 0 {
		return checks, tables, fmt.Errorf("%w: %d of %d checks failed: %s", ErrVerify, len(failed), len(checks), strings.Join(failed, "; "))
	}
	return checks, tables, nil
}

func kindOrder(k string) int {
	return strings.Index("table sequence sql amcheck", k)
}

// sequenceQuery finds every sequence that feeds a column (serial: 'a'uto
// dependency, identity: 'i'nternal), with what it would hand out next.
const sequenceQuery = `
SELECT sn.nspname, s.relname, tn.nspname, t.relname, a.attname,
       ps.last_value, ps.increment_by
FROM pg_class s
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
JOIN pg_sequences ps ON ps.schemaname = sn.nspname AND ps.sequencename = s.relname
WHERE s.relkind = 'S' AND t.relkind IN ('r', 'p')
ORDER BY 1, 2`

// sequenceChecks checks that no sequence is behind the maximum of the
// column it feeds: the app's next insert would collide.
func sequenceChecks(ctx context.Context, pool *pgxpool.Pool) []report.Check {
	rows, err := pool.Query(ctx, sequenceQuery)
	if err != nil {
		return []report.Check{{Name: "sequences", Kind: report.KindSequence, Detail: "cannot list sequences: " + err.Error()}}
	}
	type seq struct {
		sSchema, sName, tSchema, tName, col string
		last                                *int64
		inc                                 int64
	}
	var seqs []seq
	for rows.Next() {
		var s seq
		if err := rows.Scan(&s.sSchema, &s.sName, &s.tSchema, &s.tName, &s.col, &s.last, &s.inc); err != nil {
			rows.Close()
			return []report.Check{{Name: "sequences", Kind: report.KindSequence, Detail: "cannot read sequences: " + err.Error()}}
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return []report.Check{{Name: "sequences", Kind: report.KindSequence, Detail: "cannot read sequences: " + err.Error()}}
	}
	var out []report.Check
	for _, s := range seqs {
		name := "sequence " + s.sSchema + "." + s.sName
		var maxVal *int64
		q := fmt.Sprintf("SELECT max(%s)::bigint FROM %s", pgx.Identifier{s.col}.Sanitize(), pgx.Identifier{s.tSchema, s.tName}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&maxVal); err != nil {
			out = append(out, report.Check{Name: name, Kind: report.KindSequence, Detail: "cannot read max(" + s.col + "): " + err.Error()})
			continue
		}
		// last_value is NULL until the sequence is first used; the next
		// value is then its start (1 for the usual ascending sequences).
		next := int64(1)
		if s.last != nil {
			next = *s.last + s.inc
		}
		c := report.Check{Name: name, Kind: report.KindSequence, OK: true}
		switch {
		case maxVal == nil:
			c.Detail = fmt.Sprintf("%s.%s.%s is empty; next value %d", s.tSchema, s.tName, s.col, next)
		case s.inc > 0 && next <= *maxVal:
			c.OK = false
			c.Detail = fmt.Sprintf("would hand out %d but %s.%s.%s already holds %d: the app's next insert would fail",
				next, s.tSchema, s.tName, s.col, *maxVal)
		default:
			c.Detail = fmt.Sprintf("next value %d > max(%s.%s.%s) %d", next, s.tSchema, s.tName, s.col, *maxVal)
		}
		out = append(out, c)
	}
	return out
}

// sqlCheck runs one of the app's checks: one row, one column, true.
func sqlCheck(ctx context.Context, pool *pgxpool.Pool, ck Check, timeout time.Duration) report.Check {
	c := report.Check{Name: ck.Name, Kind: report.KindSQL}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := pool.Query(cctx, ck.SQL)
	if err != nil {
		c.Detail = "cannot run: " + err.Error()
		return c
	}
	defer rows.Close()
	var vals [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			c.Detail = "cannot read the result: " + err.Error()
			return c
		}
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		c.Detail = "failed: " + err.Error()
		return c
	}
	if len(vals) != 1 || len(vals[0]) != 1 {
		c.Detail = fmt.Sprintf("must return one row with one value, returned %d row(s)", len(vals))
		return c
	}
	b, ok := vals[0][0].(bool)
	switch {
	case !ok:
		c.Detail = fmt.Sprintf("must return a boolean, returned %v (%T)", vals[0][0], vals[0][0])
	case !b:
		c.Detail = "returned false"
	default:
		c.OK, c.Detail = true, "returned true"
	}
	return c
}

// amcheck verifies every B-tree index of the restored schemas.
func amcheck(ctx context.Context, pool *pgxpool.Pool) report.Check {
	c := report.Check{Name: "amcheck", Kind: report.KindAmcheck}
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS amcheck"); err != nil {
		c.Detail = "cannot create the amcheck extension: " + err.Error()
		return c
	}
	rows, err := pool.Query(ctx, `
SELECT n.nspname || '.' || ic.relname, ic.oid
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND i.indisvalid AND i.indisready`)
	if err != nil {
		c.Detail = "cannot list indexes: " + err.Error()
		return c
	}
	type idx struct {
		name string
		oid  uint32
	}
	var list []idx
	for rows.Next() {
		var x idx
		if err := rows.Scan(&x.name, &x.oid); err != nil {
			rows.Close()
			c.Detail = err.Error()
			return c
		}
		list = append(list, x)
	}
	rows.Close()
	var bad []string
	for _, x := range list {
		if _, err := pool.Exec(ctx, "SELECT bt_index_check($1::oid::regclass, true)", x.oid); err != nil {
			bad = append(bad, x.name+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		c.Detail = fmt.Sprintf("%d of %d B-tree indexes are corrupt: %s", len(bad), len(list), strings.Join(bad, "; "))
		return c
	}
	c.OK, c.Detail = true, fmt.Sprintf("%d B-tree indexes verified", len(list))
	return c
}

// countOf is "1 row", "2 rows", "0 rows".
func countOf(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
