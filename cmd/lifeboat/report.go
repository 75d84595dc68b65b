package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func newReportCmd(g *globals) *cobra.Command {
	var htmlOut, mdOut string
	c := &cobra.Command{
		Use:   "report [ID|latest]",
		Short: "Show a drill report (JSON with --json, an HTML page with --html FILE, Markdown with --markdown FILE)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			id := "latest"
			if len(args) == 1 {
				id = args[0]
			}
			drills := failover.StateOf(app).DrillsDir()
			rep, err := report.Load(drills, id)
			if err != nil {
				return fmt.Errorf("%w (list them with lifeboat drills)", err)
			}
			if htmlOut != "" {
				history, err := report.List(drills)
				if err != nil {
					return err
				}
				if err := writeFileWith(htmlOut, func(w io.Writer) error { return report.HTML(w, rep, history) }); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "wrote %s\n", htmlOut)
			}
			if mdOut != "" {
				if err := writeFileWith(mdOut, func(w io.Writer) error { return report.Markdown(w, rep) }); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "wrote %s\n", mdOut)
			}
			if htmlOut != "" || mdOut != "" {
				if g.json {
					return g.emit(rep, nil)
				}
				return nil
			}
			return g.emit(rep, func(w io.Writer) { report.Markdown(w, rep) })
		},
	}
	c.Flags().StringVar(&htmlOut, "html", "", "write the report as a self-contained HTML page to this file")
	c.Flags().StringVar(&mdOut, "markdown", "", "write the report's Markdown summary to this file")
	return c
}

// writeFileWith writes the file at path atomically (a temp file renamed
// over it), so that a symbolic link or hard link planted at path, in /tmp
// say, is replaced rather than followed.
func writeFileWith(path string, write func(io.Writer) error) error {
	return fsutil.WriteAtomic(path, 0o644, write)
}
