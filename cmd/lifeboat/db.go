package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

func newDBCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "db", Short: "Reach the current database generation"}
	var reveal, internal bool
	url := &cobra.Command{
		Use:   "url",
		Short: "Print the URL of the current database generation (password masked unless --reveal)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, false)
			if err != nil {
				return err
			}
			defer release()
			gen, err := s.CurrentGeneration()
			if err != nil {
				return err
			}
			u, err := s.DatabaseURL(cmd.Context(), gen, internal)
			if err != nil {
				return err
			}
			if !reveal {
				u = textsafe.RedactURL(u)
			}
			return g.emit(map[string]any{"url": u, "generation": gen.Number, "password_file": s.State.PasswordFile(gen.Number)},
				func(w io.Writer) { fmt.Fprintln(w, u) })
		},
	}
	url.Flags().BoolVar(&reveal, "reveal", false, "include the password")
	url.Flags().BoolVar(&internal, "internal", false, "the URL containers on the app's network use")
	psql := &cobra.Command{
		Use:         "psql [-- PSQL-ARGS...]",
		Short:       "Open psql inside the current database generation's container",
		Args:        cobra.ArbitraryArgs,
		Annotations: map[string]string{noJSON: "psql talks to the terminal"},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, false)
			if err != nil {
				return err
			}
			defer release()
			gen, err := s.CurrentGeneration()
			if err != nil {
				return err
			}
			// A container removed by hand gets the same advice as db url.
			if _, err := s.DatabaseURL(cmd.Context(), gen, false); errors.Is(err, failover.ErrDatabaseGone) {
				return err
			}
			code, err := s.Engine.ExecInteractive(cmd.Context(), gen.Container,
				append([]string{"psql", "--username", gen.User, "--dbname", gen.Database}, args...), "postgres")
			if err != nil {
				return err
			}
			if code != 0 {
				return fmt.Errorf("psql exited %d", code)
			}
			return nil
		},
	}
	c.AddCommand(url, psql)
	return c
}
