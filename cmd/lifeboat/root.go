package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitLocked = 75
)

// usageError marks errors that are the caller's: bad flags or config.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globals are the flags every command shares.
type globals struct {
	configPath string
	app        string
	json       bool
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
	// result is what emit was given with --json; run prints it, or the
	// failure document built around it, as the run's one JSON document.
	result    any
	hasResult bool
	// cfg is the config loadApp read, for ops.
	cfg *config.Config
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	code := exitCode(err)
	if err != nil {
		// Errors quote object keys and archive fields: whoever writes to the
		// bucket chose them, terminal escapes included.
		fmt.Fprintf(g.stderr, "lifeboat: %s\n", textsafe.Escape(err.Error()))
	}
	if g.json || wantsJSON(args) {
		path := root.Name()
		if cmd != nil {
			path = cmd.CommandPath()
		}
		if jerr := writeJSONDocument(g.stdout, path, g.result, g.hasResult, err, code); jerr != nil {
			fmt.Fprintf(g.stderr, "lifeboat: writing the JSON document: %v\n", jerr)
			if code == exitOK {
				code = exitFailed
			}
		}
	}
	return code
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	case errors.As(err, &ue), errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrNotFound), errors.Is(err, config.ErrNoSuchApp):
		return exitUsage
	}
	return exitFailed
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeboat",
		Short: "A verified standby of your Heroku app and database, outside Heroku and AWS",
		Long: `Lifeboat keeps a standby copy of a Heroku app and its Postgres database on a VPS:
it pulls the newest backup archive from S3, verifies it, restores it into a local
Postgres container and boots the app's image against it.

Exit codes: 0 done, 1 failed, 2 bad usage or config, 75 another run holds the app's lock.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (default: $LIFEBOAT_CONFIG, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml)")
	pf.StringVar(&g.app, "app", os.Getenv("LIFEBOAT_APP"), "app to work on (may be left out when the config has one app)")
	pf.BoolVar(&g.json, "json", false, "print one JSON document on stdout")
	pf.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (default: the config's log_level)")
	root.AddCommand(newConfigCmd(g), newArchivesCmd(g), newFetchCmd(g), newInspectCmd(g),
		newRestoreCmd(g), newRollbackCmd(g), newGenerationsCmd(g), newDBCmd(g),
		newUpCmd(g), newDownCmd(g), newPSCmd(g), newRefreshCmd(g), newFailoverCmd(g), newFailbackCmd(g),
		newDrillCmd(g), newReportCmd(g), newDrillsCmd(g), newCheckCmd(g), newServeCmd(g),
		newVersionCmd(g))
	root.AddCommand(newScheduleCmd(g))
	root.AddCommand(newCaptureCmd(g))
	root.AddCommand(newDestroyCmd(g))
	root.AddCommand(newBucketCmd(g))
	root.AddCommand(newVaultCmd(g))
	root.AddCommand(newMirrorCmd(g))
	applyUsageContract(g, root)
	return root
}

// load reads the config.
func (g *globals) load() (*config.Config, error) {
	path, err := config.Resolve(g.configPath)
	if err != nil {
		return nil, err
	}
	return config.Load(path)
}

// loadApp reads the config and picks the app named by --app.
func (g *globals) loadApp() (*config.Config, *config.App, error) {
	cfg, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	app, err := cfg.App(g.app)
	if err != nil {
		return nil, nil, err
	}
	g.cfg = cfg
	return cfg, app, nil
}

// ops is the runner of state-changing operations (records, notifications,
// metrics) for the config that loadApp (through standby) read.
func (g *globals) ops() *failover.Ops { return g.operations(g.cfg) }

// operations returns the runner that notifies and writes metrics.
func (g *globals) operations(cfg *config.Config) *failover.Ops {
	if cfg == nil {
		cfg = &config.Config{}
	}
	return failover.NewOps(cfg, g.logger(cfg))
}

// logger writes logs as text to stderr.
func (g *globals) logger(cfg *config.Config) *slog.Logger {
	level := "info"
	if cfg != nil {
		level = cfg.LogLevel
	}
	if g.logLevel != "" {
		level = g.logLevel
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: l}))
}

// emit prints v as text with human, or, with --json, keeps it for run to
// print as the run's one JSON document (with the error, if the command
// fails after all). Terminal control characters are escaped either way:
// JSON escapes C0 controls but not, say, a right-to-left override, and
// Escape's escapes are JSON's, so the document decodes to the same values.
func (g *globals) emit(v any, human func(w io.Writer)) error {
	if g.json {
		g.result, g.hasResult = v, true
		return nil
	}
	w := textsafe.NewWriter(g.stdout)
	human(w)
	return w.Flush()
}

// warn prints a warning line on stderr, escaped like emit's text.
func (g *globals) warn(format string, args ...any) {
	fmt.Fprintf(g.stderr, "WARNING: %s\n", textsafe.Escape(fmt.Sprintf(format, args...)))
}

// stderrIsTerminal reports whether progress can be drawn.
func (g *globals) stderrIsTerminal() bool {
	f, ok := g.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

func indent(s, pfx string) string {
	return pfx + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pfx)
}
