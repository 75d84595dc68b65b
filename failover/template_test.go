package failover

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Generations started from the image's data template hold the same data
// as one initialized by the entrypoint (every table's exact row count, as
// the source), each with its own password; a template that fails is
// discarded and the generation initialized the usual way, and the next
// one makes the template again.
func TestDataTemplateGivesTheSameData(t *testing.T) {
	t.Parallel()
	dump, counts := herokuArchive(t)
	s := newTestStandby(t, func(a *config.App) { a.Database.KeepGenerations = 3 })
	ctx := context.Background()
	archive := writeFile(t, dump)
	restore := func(want string) *state.Generation {
		t.Helper()
		res, err := s.Restore(ctx, RestoreRequest{ArchivePath: archive})
		if err != nil {
			t.Fatal(err)
		}
		g := res.Generation
		if g.DataTemplate != want {
			t.Errorf("generation %d: data_template %q, want %q", g.Number, g.DataTemplate, want)
		}
		got := map[string]int64{}
		for _, tr := range g.Tables {
			got[tr.Schema+"."+tr.Name] = tr.Rows
		}
		for table, n := range counts {
			if got[table] != n {
				t.Errorf("generation %d, %s: %d rows, the source has %d", g.Number, table, got[table], n)
			}
		}
		if len(got) != len(counts) {
			t.Errorf("generation %d: tables %v, the source %v", g.Number, got, counts)
		}
		if v := query(t, s, g, "select current_setting('fsync') || current_database()"); v != "onshop" {
			t.Errorf("generation %d: fsync and database %s", g.Number, v)
		}
		return g
	}
	g1 := restore(TemplateBuilt)
	g2 := restore(TemplateUsed)
	// Each generation has a password of its own: the first's does not
	// open the second.
	u1, _ := s.Server(g1).Password()
	u2, _ := s.Server(g2).Password()
	url2, err := s.Server(g2).URL(ctx)
	if err != nil || u1 == u2 {
		t.Fatalf("passwords shared (%v)", err)
	}
	if conn, err := pgx.Connect(ctx, strings.Replace(url2, u2, u1, 1)); err == nil {
		conn.Close(ctx)
		t.Fatal("generation 1's password opens generation 2")
	}

	// A template damaged on disk: this generation is initialized by the
	// entrypoint, the template removed, the next one makes it again.
	tpls, _ := filepath.Glob(filepath.Join(s.State.TemplatesDir(), "*", "data.tar"))
	if len(tpls) != 1 {
		t.Fatalf("templates %v, want one", tpls)
	}
	f, _ := os.OpenFile(tpls[0], os.O_WRONLY, 0)
	f.WriteAt([]byte("garbage"), 4096)
	f.Close()
	restore(TemplateNone)
	if _, err := os.Stat(tpls[0]); !os.IsNotExist(err) {
		t.Errorf("the damaged template is still there: %v", err)
	}
	restore(TemplateBuilt)

	// database.data_template: false initializes by the entrypoint.
	off := false
	s.App.Database.DataTemplate = &off
	restore(TemplateNone)
}
