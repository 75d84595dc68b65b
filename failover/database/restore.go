// Package database owns a Postgres server in a container (Server: its
// spec, start, readiness, URLs, exec, logs, publishing, removal, password
// file), restores a pg_dump archive into it and verifies the result:
// readiness over a real connection, the schemas and extensions the archive
// needs, pg_restore with its output classified, and fail-closed checks
// (tables and row counts, sequences, the app's own SQL, optional amcheck).
// pg_restore runs through an ExecFunc (Server.Exec: inside the database
// container, so that it matches the server's version). pgx is used here
// and nowhere else in Lifeboat's domain.
package database

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrRestore is returned when pg_restore reports errors that are not
// expected, or fails without saying why.
var ErrRestore = errors.New("pg_restore failed")

// ExecFunc runs a command where the database server runs (inside its
// container), streaming its output, and returns its exit code.
type ExecFunc func(ctx context.Context, cmd []string, stdout, stderr io.Writer) (int, error)

// RestoreOptions say how to run pg_restore.
type RestoreOptions struct {
	// ArchivePath is the archive's path where the command runs.
	ArchivePath string
	Database    string
	User        string
	Jobs        int
	// Expected are patterns of errors that do not fail the restore.
	Expected []*regexp.Regexp
	// Log receives pg_restore's whole output.
	Log io.Writer
}

// Restore runs pg_restore --no-owner --no-acl --jobs N (Heroku's advice,
// without --clean: the database is new) and classifies its output. It
// returns an error wrapping ErrRestore when pg_restore reported errors
// that are not expected or exited non-zero without reporting any.
func Restore(ctx context.Context, exec ExecFunc, o RestoreOptions) (state.RestoreOutcome, error) {
	out := state.RestoreOutcome{Jobs: max(o.Jobs, 1), Errors: []string{}, ExpectedErrors: []string{}, Warnings: []string{}}
	cmd := []string{"pg_restore", "--no-owner", "--no-acl", "--jobs", strconv.Itoa(out.Jobs),
		"--username", o.User, "--dbname", o.Database, o.ArchivePath}
	pr, pw := io.Pipe()
	var cl classifier
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl.read(pr, o.Log)
	}()
	code, err := exec(ctx, cmd, pw, pw)
	pw.Close()
	wg.Wait()
	out.ExitCode = code
	if err != nil {
		return out, fmt.Errorf("%w: could not run pg_restore: %w", ErrRestore, err)
	}
	for _, e := range cl.errors {
		if matchesAny(o.Expected, e) {
			out.ExpectedErrors = append(out.ExpectedErrors, e)
		} else {
			out.Errors = append(out.Errors, e)
		}
	}
	out.Warnings = append(out.Warnings, cl.warnings...)
	switch {
	case len(out.Errors) > 0:
		return out, fmt.Errorf("%w: %d error(s), the first: %s", ErrRestore, len(out.Errors), firstLine(out.Errors[0]))
	case code != 0 && len(out.ExpectedErrors) == 0:
		return out, fmt.Errorf("%w: exit code %d without an error message (killed? out of memory or disk?)", ErrRestore, code)
	}
	return out, nil
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// classifier groups pg_restore's output into errors and warnings. An error
// is reported as its "pg_restore: error:" line with the "from TOC entry"
// line before it and the "Command was:" line after it.
type classifier struct {
	errors   []string
	warnings []string
}

var reIgnoredSummary = regexp.MustCompile(`^pg_restore: warning: errors ignored on restore: \d+`)

func (c *classifier) read(r io.Reader, log io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var context string
	last := -1
	for sc.Scan() {
		line := sc.Text()
		if log != nil {
			fmt.Fprintln(log, line)
		}
		switch {
		case strings.HasPrefix(line, "pg_restore: from TOC entry"):
			context = strings.TrimPrefix(line, "pg_restore: ")
		case strings.HasPrefix(line, "pg_restore: error:"):
			msg := strings.TrimSpace(strings.TrimPrefix(line, "pg_restore: error:"))
			if context != "" {
				msg += "\n  (" + context + ")"
				context = ""
			}
			c.errors = append(c.errors, msg)
			last = len(c.errors) - 1
		case strings.HasPrefix(line, "Command was:") && last >= 0:
			cmd := strings.TrimSpace(strings.TrimPrefix(line, "Command was:"))
			if len(cmd) > 300 {
				cmd = cmd[:300] + "…"
			}
			c.errors[last] += "\n  command: " + cmd
			last = -1
		case reIgnoredSummary.MatchString(line):
		case strings.HasPrefix(line, "pg_restore: warning:"):
			c.warnings = append(c.warnings, strings.TrimSpace(strings.TrimPrefix(line, "pg_restore: warning:")))
		}
	}
	// Drain so that the writer never blocks, even after a scan error.
	_, _ = io.Copy(io.Discard, r)
}
