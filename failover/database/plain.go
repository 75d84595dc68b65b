package database

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrPlainRestore is returned when psql stops on a plain-SQL dump: an
// error in its SQL (ON_ERROR_STOP), or psql failing without one.
var ErrPlainRestore = errors.New("psql failed on the plain-SQL dump")

// maxPlainErrors bounds the psql messages kept in the outcome.
const maxPlainErrors = 20

// RestorePlain restores a plain-SQL dump (pg_dump -Fp) with psql
// -v ON_ERROR_STOP=1 in the container: the dump is read from r on this
// host and streamed to psql's standard input, never held in memory,
// without its ownership and privilege statements (dump.FilterPlain: what
// pg_restore --no-owner --no-acl leaves out). psql stops at the first
// error, so database.expected_errors cannot apply. Its whole output goes
// to log. The error wraps ErrPlainRestore.
func (s *Server) RestorePlain(ctx context.Context, r io.Reader, log io.Writer) (state.RestoreOutcome, error) {
	out := state.RestoreOutcome{Jobs: 1, Errors: []string{}, ExpectedErrors: []string{}, Warnings: []string{}}
	if log == nil {
		log = io.Discard
	}
	pr, pw := io.Pipe()
	var dropped int
	filtered := make(chan error, 1)
	go func() {
		n, err := dump.FilterPlain(ctx, pw, r)
		dropped = n
		pw.CloseWithError(err)
		filtered <- err
	}()
	msgs, mw := io.Pipe()
	var psqlOut psqlMessages
	read := make(chan struct{})
	go func() {
		defer close(read)
		psqlOut.read(msgs, log)
	}()
	cmd := []string{"psql", "--no-psqlrc", "--quiet", "--no-password", "-v", "ON_ERROR_STOP=1",
		"--username", s.User, "--dbname", s.Database}
	code, err := s.Engine.Exec(ctx, s.Name, cmd, engine.ExecOptions{User: "root", Stdin: pr, Stdout: mw, Stderr: mw})
	// psql may stop before the end of its input: the filter stops too.
	pr.CloseWithError(io.ErrClosedPipe)
	ferr := <-filtered
	mw.Close()
	<-read
	out.ExitCode = code
	out.Errors = append(out.Errors, psqlOut.errors...)
	out.Warnings = append(out.Warnings, psqlOut.warnings...)
	if dropped > 0 {
		fmt.Fprintf(log, "lifeboat: %d ownership and privilege statements of the dump were left out (as pg_restore --no-owner --no-acl does)\n", dropped)
	}
	switch {
	case err != nil:
		return out, fmt.Errorf("%w: could not run psql: %w", ErrPlainRestore, err)
	case len(out.Errors) > 0:
		return out, fmt.Errorf("%w: psql stopped at the first error (ON_ERROR_STOP), the restore is incomplete: %s", ErrPlainRestore, firstLine(out.Errors[0]))
	case code != 0:
		return out, fmt.Errorf("%w: exit code %d without an error message (killed? out of memory or disk?)", ErrPlainRestore, code)
	case ferr != nil && !errors.Is(ferr, io.ErrClosedPipe):
		return out, fmt.Errorf("%w: reading the dump: %w", ErrPlainRestore, ferr)
	}
	return out, nil
}

// psqlMessages keeps psql's errors and warnings ("psql:<stdin>:12: ERROR:
// …" and the DETAIL/HINT lines after them), a bounded number of each.
type psqlMessages struct {
	errors   []string
	warnings []string
}

func (m *psqlMessages) read(r io.Reader, log io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	last := -1
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		msg := line
		if strings.HasPrefix(msg, "psql:") {
			// psql:<stdin>:LINE: LEVEL:  text
			if parts := strings.SplitN(msg, ":", 4); len(parts) == 4 {
				msg = "line " + parts[2] + ":" + parts[3]
			}
		}
		msg = strings.TrimSpace(msg[:min(len(msg), 500)])
		switch {
		case strings.Contains(line, "ERROR:") || strings.Contains(line, "FATAL:"):
			if len(m.errors) < maxPlainErrors {
				m.errors = append(m.errors, msg)
				last = len(m.errors) - 1
			}
		case strings.Contains(line, "WARNING:"):
			if len(m.warnings) < maxPlainErrors {
				m.warnings = append(m.warnings, msg)
			}
			last = -1
		case last >= 0 && (strings.HasPrefix(line, "DETAIL:") || strings.HasPrefix(line, "HINT:") || strings.HasPrefix(line, "CONTEXT:")):
			m.errors[last] += "\n  " + msg
		default:
			last = -1
		}
	}
	_, _ = io.Copy(io.Discard, r)
}
