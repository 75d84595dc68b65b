package failover

import (
	"context"
	"fmt"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
)

// RunJob runs one job of an app the way a signed hook of lifeboat serve
// asks for it: "refresh" or "drill" under the app's lock, "capture" under
// its capture lock, each recorded and notified like the command. eng nil
// (no Docker engine) gives engine.ErrUnreachable once the lock is held.
func (o *Ops) RunJob(ctx context.Context, app *config.App, eng *engine.Engine, job, toolVersion string) error {
	if job == "capture" {
		if eng == nil {
			return engine.ErrUnreachable
		}
		_, err := o.CaptureApp(ctx, app, eng, nil, "lifeboat serve: capture (hook)")
		return err
	}
	l, err := Lock(app, "lifeboat serve: "+job+" (hook)")
	if err != nil {
		return err
	}
	defer l.Release()
	if eng == nil {
		return engine.ErrUnreachable
	}
	s := NewStandby(app, eng, o.Log, nil)
	switch job {
	case "refresh":
		_, err = o.Refresh(ctx, s, RefreshOptions{})
	case "drill":
		_, err = o.Drill(ctx, s, DrillOptions{Trigger: "webhook", TriggeredBy: "lifeboat serve hook", ToolVersion: toolVersion})
	default:
		err = fmt.Errorf("no job %q (refresh, drill or capture)", job)
	}
	return err
}
