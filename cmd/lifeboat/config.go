package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/templates"
)

func newConfigCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check or print the configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the config and print it resolved, with defaults filled in and secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if g.app != "" {
				app, err := cfg.App(g.app)
				if err != nil {
					return err
				}
				cfg.Apps = []config.App{*app}
			}
			red := cfg.Redacted()
			return g.emit(red, func(w io.Writer) {
				fmt.Fprintf(g.stderr, "%s: OK (%d app(s))\n", cfg.Path, len(cfg.Apps))
				b, _ := yaml.Marshal(red)
				w.Write(b)
			})
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a commented example lifeboat.yaml",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.emit(map[string]string{"example": templates.ExampleConfig}, func(w io.Writer) { io.WriteString(w, templates.ExampleConfig) })
		},
	})
	return c
}
