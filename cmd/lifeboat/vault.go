package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/vault"
)

func newVaultCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "vault",
		Short: "The history of verified archives kept on the VPS (grandfather-father-son)",
		Long: `With vault.enabled: true, every archive that fetch, refresh or drill verified is also
kept in vault.dir (default {state_dir}/{app}/vault) with its manifest: a hard link to the
cache's file when both are on one file system (no extra space while the cache still
keeps it), else a copy read back against the manifest. An archive that came encrypted
(age, gpg) is kept as its ciphertext, and decrypted (s3.identity_file or
s3.passphrase_file) when it is restored. Retention keeps the newest
archive of each of the last vault.keep.daily (7) days, vault.keep.weekly (4) ISO weeks
and vault.keep.monthly (12) months (UTC), and always the newest.

  lifeboat vault list      what is kept, and why
  lifeboat vault verify    re-read every entry against its manifest; one that differs is
                           marked bad (never used, never removed by Lifeboat); exit 1

Restore or rehearse an entry with lifeboat restore --archive vault:NAME and lifeboat
drill --archive vault:NAME.`,
	}
	c.AddCommand(newVaultListCmd(g), newVaultVerifyCmd(g))
	return c
}

// openVault loads the app's vault; a vault that is off is a config error.
func (g *globals) openVault() (*config.App, *vault.Vault, error) {
	_, app, err := g.loadApp()
	if err != nil {
		return nil, nil, err
	}
	v, err := failover.Vault(app)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return app, v, nil
}

// resolveArchive turns an --archive flag into a path: vault:NAME is the
// vault's entry (a name the vault does not have is a usage error).
func (g *globals) resolveArchive(ctx context.Context, app *config.App, arg string) (string, error) {
	path, err := failover.ResolveArchive(ctx, app, arg)
	if errors.Is(err, vault.ErrNotFound) || errors.Is(err, failover.ErrVaultOff) {
		return "", usagef("--archive: %v", err)
	}
	return path, err
}

func newVaultListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the kept archives, newest first, with why each is kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			app, v, err := g.openVault()
			if err != nil {
				return err
			}
			l, err := v.List()
			if err != nil {
				return err
			}
			doc := struct {
				App     string        `json:"app"`
				Dir     string        `json:"dir"`
				Keep    vault.Keep    `json:"keep"`
				Entries []vault.Entry `json:"entries"`
			}{app.Name, v.Dir, v.Keep, l}
			if doc.Entries == nil {
				doc.Entries = []vault.Entry{}
			}
			return g.emit(doc, func(w io.Writer) {
				if len(l) == 0 {
					fmt.Fprintf(w, "the vault %s is empty: the next fetch or refresh keeps its archive there\n", v.Dir)
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tCAPTURED\tSIZE\tVERIFIED\tKEPT BECAUSE\tKEY")
				for _, e := range l {
					why := strings.Join(e.Reasons, ", ")
					if e.Vault.Bad {
						why = "BAD since " + e.Vault.BadSince.Format(time.RFC3339) + ": " + e.Vault.BadReason
					}
					verified := "at fetch"
					if !e.Vault.LastVerified.IsZero() {
						verified = e.Vault.LastVerified.Format("2006-01-02 15:04")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.CapturedAt.Format("2006-01-02 15:04"), report.Bytes(e.DumpSize), verified, why, e.Key)
				}
				tw.Flush()
			})
		},
	}
}

func newVaultVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-read every kept archive against its manifest; mark the ones that differ bad (exit 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			app, v, err := g.openVault()
			if err != nil {
				return err
			}
			checks, err := v.Verify(cmd.Context())
			doc := struct {
				App    string        `json:"app"`
				OK     bool          `json:"ok"`
				Checks []vault.Check `json:"checks"`
			}{App: app.Name, OK: err == nil, Checks: checks}
			bad := 0
			for _, c := range checks {
				if !c.OK {
					bad++
					doc.OK = false
				}
			}
			if eerr := g.emit(doc, func(w io.Writer) {
				for _, c := range checks {
					mark := "ok  "
					if !c.OK {
						mark = "BAD "
					}
					fmt.Fprintf(w, "%s %s  %s\n", mark, c.Name, c.Detail)
					if c.Marked == "bad" {
						fmt.Fprintf(w, "     marked bad now: it stays in %s, and restore and drill refuse it\n", v.Dir)
					}
				}
				if len(checks) == 0 {
					fmt.Fprintf(w, "the vault %s is empty\n", v.Dir)
				}
			}); eerr != nil {
				return eerr
			}
			if err != nil {
				return err
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d vault entries do not match their manifest (bit rot, or a change from outside): they are marked bad; the others are fine", bad, len(checks))
			}
			return nil
		},
	}
}
