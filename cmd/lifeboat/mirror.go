package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/mirror"
)

func newMirrorCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "mirror",
		Short: "The copy of every verified archive at a second provider outside AWS",
		Long: `With mirror.bucket (and mirror.endpoint, mirror.credentials_file: the mirror's own keys),
every archive that fetch, refresh or drill verified is copied to the mirror right after
its verification: streamed from the app's bucket (pinned to the verified version) as a
multipart upload whose parts carry their SHA-256, under the same key, and completed only
when the bytes hash to the SHA-256 the fetch verified. A mirror that is down never fails
a fetch or refresh: it is a warning, the archive stays in the ledger
({state_dir}/{app}/mirror.json) and is copied at the next run; lifeboat check says how
far behind the mirror is.

  lifeboat mirror check    ask the mirror for every verified archive; list what it lacks (exit 1)
  lifeboat mirror sync     add the cache's and the vault's archives to the ledger and copy
                           what the mirror lacks, now`,
	}
	c.AddCommand(newMirrorCheckCmd(g), newMirrorSyncCmd(g))
	return c
}

// openMirror loads the app's mirror; none configured is a config error.
func (g *globals) openMirror(cmd *cobra.Command) (*mirror.Mirror, *config.App, error) {
	cfg, app, err := g.loadApp()
	if err != nil {
		return nil, nil, err
	}
	m, err := failover.OpenMirror(cmd.Context(), app, g.logger(cfg))
	if errors.Is(err, failover.ErrMirrorOff) {
		return nil, nil, usageError{err}
	}
	return m, app, err
}

func newMirrorCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "List the verified archives the mirror lacks (exit 1 when any)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, app, err := g.openMirror(cmd)
			if err != nil {
				return err
			}
			lacks, total, err := m.Lacks(cmd.Context())
			if err != nil {
				return err
			}
			doc := struct {
				App      string        `json:"app"`
				Mirror   string        `json:"mirror"`
				OK       bool          `json:"ok"`
				Verified int           `json:"verified"`
				Lacks    []mirror.Lack `json:"lacks"`
			}{app.Name, m.Name, len(lacks) == 0, total, lacks}
			if err := g.emit(doc, func(w io.Writer) {
				if len(lacks) == 0 {
					fmt.Fprintf(w, "%s has all %d verified archive(s)\n", m.Name, total)
					return
				}
				fmt.Fprintf(w, "%s lacks %d of %d verified archive(s):\n", m.Name, len(lacks), total)
				for _, l := range lacks {
					fmt.Fprintf(w, "  %s  captured %s  %s\n", l.Key, l.CapturedAt.Format(time.RFC3339), l.Why)
				}
			}); err != nil {
				return err
			}
			if len(lacks) > 0 {
				return fmt.Errorf("the mirror lacks %d verified archive(s): they are copied at the next fetch or refresh, or now with lifeboat mirror sync", len(lacks))
			}
			return nil
		},
	}
}

func newMirrorSyncCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sync",
		Short: "Copy to the mirror every verified archive it lacks, the cache's and the vault's included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, app, err := g.openMirror(cmd)
			if err != nil {
				return err
			}
			var entries []archive.Entry
			if l, err := failover.Cache(app).List(); err == nil {
				entries = append(entries, l...)
			}
			if v, err := failover.Vault(app); err == nil {
				if l, err := v.List(); err == nil {
					for _, e := range l {
						if !e.Vault.Bad {
							entries = append(entries, archive.Entry{Manifest: e.Manifest.Manifest, Path: e.Path})
						}
					}
				}
			}
			for _, e := range entries {
				if err := m.Add(e); err != nil {
					return err
				}
			}
			res, err := m.Sync(cmd.Context())
			if err != nil {
				return err
			}
			if err := g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "copied %d, already there %d, still lacking %d\n", len(res.Copied), len(res.Present), res.Pending)
				for k, why := range res.Failed {
					fmt.Fprintf(w, "  %s: %s\n", k, why)
				}
			}); err != nil {
				return err
			}
			if res.Pending > 0 {
				return fmt.Errorf("the mirror %s still lacks %d verified archive(s)", m.Name, res.Pending)
			}
			return nil
		},
	}
}
