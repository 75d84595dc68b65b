package failover

import (
	"context"
	"errors"

	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Data templates: how a generation's data directory comes to be. The
// record's data_template says which way it went.
const (
	TemplateUsed  = "used"  // copied from the image's template
	TemplateBuilt = "built" // the template was made by this run, then copied
	TemplateNone  = "none"  // initialized by the image's entrypoint (database.data_template off, or no template could be had)
)

// createDatabase creates and starts generation g's server for the bulk
// load (bulk): from the image's data template (made first when missing:
// once per image) unless database.data_template is off, else initialized
// by the image's entrypoint. A template that fails is discarded (the next
// run makes it again) and the generation is initialized the usual way:
// the template saves time, it never fails a restore.
func (s *site) createDatabase(ctx context.Context, srv *database.Server, g *state.Generation, archive string, bulk []database.Setting) error {
	g.DataTemplate = TemplateNone
	if !s.App.Database.DataTemplateEnabled() {
		return srv.CreateForBulkLoad(ctx, archive, bulk)
	}
	// Templates are the app's, shared by the standby and its drills.
	ts := database.Templates{Root: s.rowsStore().TemplatesDir(), Engine: s.Engine}
	req := database.TemplateRequest{
		Image: g.Image, ImageID: g.ImageID, User: g.User, Database: g.Database,
		Name: s.Names.Template(), Labels: s.Names.Labels(names.RoleTemplate, 0),
		ShmSize: int64(s.App.Database.ShmSize), ReadyTimeout: s.App.Database.ReadyTimeout.D(),
	}
	tpl := ts.Find(req)
	how := TemplateUsed
	if tpl == nil {
		s.say("  initializing a data directory for image %s once (kept for the next generations)", g.Image)
		var err error
		tpl, _, err = ts.Ensure(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.Log.Warn("no data template: this generation is initialized by the image's entrypoint", "err", err)
			return srv.CreateForBulkLoad(ctx, archive, bulk)
		}
		how = TemplateBuilt
	}
	err := srv.CreateFromTemplateForBulkLoad(ctx, archive, tpl, bulk)
	if err == nil {
		g.DataTemplate = how
		return nil
	}
	if ctx.Err() != nil || !errors.Is(err, database.ErrTemplate) && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	s.Log.Warn("the data template did not work: it is discarded, and this generation is initialized by the image's entrypoint", "template", tpl.Dir, "err", err)
	if derr := ts.Discard(tpl); derr != nil {
		s.Log.Warn("removing the data template", "err", derr)
	}
	if rerr := srv.Remove(ctx); rerr != nil {
		return errors.Join(err, rerr)
	}
	return srv.CreateForBulkLoad(ctx, archive, bulk)
}
