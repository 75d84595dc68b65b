package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

func newGenerationsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "generations",
		Short: "List the app's database generations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			st := failover.StateOf(app)
			list, err := st.List()
			if err != nil {
				return err
			}
			cur, err := st.Current()
			if err != nil && !errors.Is(err, state.ErrNoCurrent) {
				return err
			}
			type row struct {
				*state.Generation
				Current bool `json:"current"`
			}
			rows := []row{}
			for _, gen := range list {
				rows = append(rows, row{gen, gen.Number == cur.Generation})
			}
			return g.emit(rows, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "\tGEN\tSTATUS\tCREATED\tARCHIVE CAPTURED\tSECONDS\tTABLES\tERROR")
				for _, r := range rows {
					mark := ""
					if r.Current {
						mark = "*"
					}
					errText := r.Error
					if len(errText) > 80 {
						errText = errText[:80] + "…"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.1f\t%d\t%s\n", mark, r.Number, r.Status, r.CreatedAt.Format("2006-01-02 15:04"),
						r.Archive.CapturedAt.Format("2006-01-02 15:04"), r.Seconds(), len(r.Tables), errText)
				}
				tw.Flush()
			})
		},
	}
}
