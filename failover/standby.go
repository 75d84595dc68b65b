package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/diskspace"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrNoDatabase is returned when an operation needs a current database
// generation and there is none (run `lifeboat restore` first).
var ErrNoDatabase = errors.New("no current database generation (run `lifeboat restore` first)")

// ErrDatabaseGone is returned when the current generation's database
// container no longer exists (removed by hand): its data is lost with it.
var ErrDatabaseGone = errors.New("the database container is gone")

// DatabaseGoneAdvice is the one thing to do about ErrDatabaseGone, given
// alike by check, db url, failover --dry-run and every command that needs
// the database.
const DatabaseGoneAdvice = "`lifeboat restore` rebuilds the standby from the newest cached archive (`lifeboat refresh` from S3); `lifeboat failover` does so by itself"

// databaseGone is the error for generation g whose container was removed.
// It wraps ErrDatabaseGone and engine.ErrNotFound.
func databaseGone(g *state.Generation) error {
	return fmt.Errorf("%w: generation %d's container %s was removed (by hand?): %s (%w)", ErrDatabaseGone, g.Number, g.Container, DatabaseGoneAdvice, engine.ErrNotFound)
}

// Standby is one app's standby on this VPS: its config, its records and
// the Docker engine its containers run in.
type Standby struct {
	site
}

// site is where database generations are built and the app is started: a
// naming scope (package names), a records store, the Docker engine. The
// standby is one site; each drill is another, of its own, so that nothing
// a drill makes carries the standby's names or lands in its records.
type site struct {
	App    *config.App
	Engine *engine.Engine
	State  *state.Store
	Log    *slog.Logger
	// Progress receives a line per step for the operator (stderr); nil: none.
	Progress io.Writer
	// Names names and labels the site's Docker objects.
	Names names.Scope
	// Rows is the app's own records, when State is not them (a drill's
	// site keeps its generation records apart): the verified row counts
	// a restore is compared with, and the config-var snapshot the app
	// boots with, read as a failover would (see rowsStore).
	Rows *state.Store
	// DiskProbe measures free space (nil: the file systems of this
	// machine); tests inject others.
	DiskProbe diskspace.Probe
	// KeepFailedApp leaves the containers of an app whose start failed (a
	// failed release, a process that exited, no health) in place instead
	// of removing them: a drill kept for inspection.
	KeepFailedApp bool
}

// NewStandby returns the app's standby; eng may be nil for operations that
// only read records.
func NewStandby(app *config.App, eng *engine.Engine, log *slog.Logger, progress io.Writer) *Standby {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Standby{site{App: app, Engine: eng, State: StateOf(app), Log: log, Progress: progress, Names: names.Standby(app.Name)}}
}

func (s *site) say(format string, args ...any) {
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, format+"\n", args...)
	}
}

// Server is the database server that holds generation g: named and
// labelled by the Standby's scope, tuned by the app's database settings,
// its password in the generation's directory.
func (s *site) Server(g *state.Generation) *database.Server {
	return &database.Server{
		Engine: s.Engine, Name: g.Container, Volume: g.Volume, Network: g.Network, Image: g.Image,
		User: g.User, Database: g.Database, Published: g.Published,
		PasswordFile:  s.State.PasswordFile(g.Number),
		Labels:        s.Names.Labels(names.RoleDatabase, g.Number),
		NetworkLabels: s.Names.Labels(names.RoleNetwork, 0),
		ShmSize:       int64(s.App.Database.ShmSize),
		ReadyTimeout:  s.App.Database.ReadyTimeout.D(),
	}
}

// CurrentGeneration returns the record of the current generation, or an
// error wrapping ErrNoDatabase.
func (s *site) CurrentGeneration() (*state.Generation, error) {
	cur, err := s.State.Current()
	if errors.Is(err, state.ErrNoCurrent) {
		return nil, ErrNoDatabase
	}
	if err != nil {
		return nil, err
	}
	return s.State.Load(cur.Generation)
}

// DatabaseURL is the URL of generation g's database from this host, or
// with internal from the containers on its network; the password is
// included. A removed container gives ErrDatabaseGone.
func (s *Standby) DatabaseURL(ctx context.Context, g *state.Generation, internal bool) (string, error) {
	if internal {
		return s.Server(g).InternalURL()
	}
	u, err := s.Server(g).URL(ctx)
	if errors.Is(err, engine.ErrNotFound) {
		return "", databaseGone(g)
	}
	return u, err
}
