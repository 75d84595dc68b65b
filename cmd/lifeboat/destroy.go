package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
)

func newDestroyCmd(g *globals) *cobra.Command {
	var yes, force bool
	c := &cobra.Command{
		Use:   "destroy --app A [--yes] [--force]",
		Short: "Remove an app's standby entirely: its containers, volumes, networks and state",
		Long: `Remove everything Lifeboat keeps for one app on this host: every Docker container,
volume and network labelled io.lifeboat.app=A (the standby's database generations and
app containers, drills and their leftovers), and the app's state directory (generation
records, run records, drill reports, the archive cache when it lives there). Objects of
other apps are never touched: they are found by that exact label. Images stay (another
app may use them), and so does a cache.dir outside the state directory. The config is
not changed: remove the app from it, and run lifeboat schedule install to remove its
timers.

--app is required, even with a single app. On a terminal, destroy asks you to type the
app's name; otherwise --yes is required. While the standby serves users (after a
failover) it refuses unless --force. Exit codes: 0 removed (or nothing to remove), 1 an
object could not be removed (the state is then kept), 2 no --app, no --yes off a
terminal, a wrong confirmation or a serving standby without --force, 75 another run
holds the app's lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, app, err := g.loadApp()
			if err != nil {
				return err
			}
			if g.app == "" {
				return usagef("destroy needs --app: name the app whose standby to remove (%s here)", app.Name)
			}
			if !yes {
				if !stdinIsTerminal() {
					return usagef("destroy removes the standby of %s for good: add --yes to confirm (stdin is not a terminal to ask on)", app.Name)
				}
				fmt.Fprintf(g.stderr, "This removes the standby of %s for good: its containers, volumes, networks and everything under %s.\nType the app's name to confirm: ", app.Name, failover.StateOf(app).Dir)
				line, _ := bufio.NewReader(io.LimitReader(os.Stdin, 1024)).ReadString('\n')
				if strings.TrimSpace(line) != app.Name {
					return usagef("destroy: the confirmation did not match %q: nothing was removed", app.Name)
				}
			}
			l, err := failover.Lock(app, lock.CommandLine())
			if err != nil {
				return err
			}
			eng, err := engine.New(cmd.Context())
			if err != nil {
				l.Release()
				return err
			}
			defer eng.Close()
			s := failover.NewStandby(app, eng, g.logger(cfg), nil)
			res, err := s.Destroy(cmd.Context(), force)
			if errors.Is(err, failover.ErrServingDestroy) {
				l.Release()
				return usageError{err}
			}
			l.Release()
			if err == nil {
				err = failover.RemoveStateDir(s.State)
				if d := cfg.Metrics.TextfileDir; d != "" {
					// A metrics file left behind would keep alerting on a standby that no longer exists.
					if rerr := os.Remove(filepath.Join(d, "lifeboat_"+app.Name+".prom")); rerr != nil && !os.IsNotExist(rerr) {
						err = rerr
					}
				}
			}
			if eerr := g.emit(res, func(w io.Writer) { printDestroy(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
	c.Flags().BoolVar(&force, "force", false, "destroy even while the standby serves users")
	return c
}

func stdinIsTerminal() bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && os.Getenv("TERM") != "dumb"
}

func printDestroy(w io.Writer, r *failover.DestroyResult) {
	if r.Empty() {
		fmt.Fprintf(w, "%s: nothing to remove\n", r.App)
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"containers", r.Containers}, {"volumes", r.Volumes}, {"networks", r.Networks}} {
		if len(l.names) > 0 {
			fmt.Fprintf(w, "removed %d %s: %s\n", len(l.names), l.what, strings.Join(l.names, ", "))
		}
	}
	if r.StateDir != "" {
		fmt.Fprintf(w, "removed %s\n", r.StateDir)
	}
	for _, k := range r.Kept {
		fmt.Fprintf(w, "kept %s\n", k)
	}
	if !r.Empty() {
		fmt.Fprintf(w, "the config still names %s: remove it there, then run lifeboat schedule install\n", r.App)
	}
}
