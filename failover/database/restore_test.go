package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// fakeExec plays back pg_restore output and an exit code.
func fakeExec(output string, code int, got *[]string) ExecFunc {
	return func(ctx context.Context, cmd []string, stdout, stderr io.Writer) (int, error) {
		*got = cmd
		io.WriteString(stderr, output)
		return code, nil
	}
}

const pgRestoreOutput = `pg_restore: while PROCESSING TOC:
pg_restore: from TOC entry 5; 3079 16390 EXTENSION pg_stat_statements (no owner)
pg_restore: error: could not execute query: ERROR:  extension "pg_stat_statements" is not available
Command was: CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA heroku_ext;
pg_restore: from TOC entry 4021; 0 0 COMMENT EXTENSION pg_stat_statements
pg_restore: error: could not execute query: ERROR:  extension "pg_stat_statements" does not exist
Command was: COMMENT ON EXTENSION pg_stat_statements IS 'track planning and execution statistics';
pg_restore: warning: could not find where to insert IF EXISTS in statement "x"
pg_restore: warning: errors ignored on restore: 2
`

func TestRestoreClassifiesErrors(t *testing.T) {
	var cmd []string
	out, err := Restore(context.Background(), fakeExec(pgRestoreOutput, 1, &cmd), RestoreOptions{
		ArchivePath: "/a.dump", Database: "shop", User: "postgres", Jobs: 3,
	})
	if !errors.Is(err, ErrRestore) || !strings.Contains(err.Error(), "2 error(s)") {
		t.Fatalf("got %v", err)
	}
	if len(out.Errors) != 2 || len(out.Warnings) != 1 || out.ExitCode != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if !strings.Contains(out.Errors[0], "TOC entry 5") || !strings.Contains(out.Errors[0], "command: CREATE EXTENSION") {
		t.Fatalf("error lacks its context: %q", out.Errors[0])
	}
	want := "pg_restore --no-owner --no-acl --jobs 3 --username postgres --dbname shop /a.dump"
	if strings.Join(cmd, " ") != want {
		t.Fatalf("command %q", strings.Join(cmd, " "))
	}
}

func TestExpectedErrorsDoNotFail(t *testing.T) {
	var cmd []string
	out, err := Restore(context.Background(), fakeExec(pgRestoreOutput, 1, &cmd), RestoreOptions{
		Jobs: 1, Expected: []*regexp.Regexp{regexp.MustCompile(`pg_stat_statements`)},
	})
	if err != nil || len(out.ExpectedErrors) != 2 || len(out.Errors) != 0 {
		t.Fatalf("got %v %+v", err, out)
	}
}

func TestSilentFailureFails(t *testing.T) {
	var cmd []string
	_, err := Restore(context.Background(), fakeExec("", 137, &cmd), RestoreOptions{Jobs: 1})
	if !errors.Is(err, ErrRestore) || !strings.Contains(err.Error(), "137") {
		t.Fatalf("got %v", err)
	}
	_, err = Restore(context.Background(), func(context.Context, []string, io.Writer, io.Writer) (int, error) {
		return -1, fmt.Errorf("engine down")
	}, RestoreOptions{Jobs: 1})
	if !errors.Is(err, ErrRestore) || !strings.Contains(err.Error(), "engine down") {
		t.Fatalf("got %v", err)
	}
}
