// Package names is the one place that names an app's Docker objects and
// labels them: given an app, a purpose (the standby, or one drill) and a
// generation, it says what its containers, volumes and networks are called,
// which io.lifeboat.* labels they carry, and which label filter finds them.
// Nothing else in Lifeboat builds a "lifeboat-…" name or a label filter by
// hand, so a drill can never pick a name or a filter that reaches the
// standby's objects.
//
// The label keys themselves are the engine's (engine.Label*); this package
// imports nothing but them.
package names

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
)

// Purposes: the io.lifeboat.purpose label.
const (
	PurposeStandby = "standby"
	PurposeDrill   = "drill"
)

// Roles: the io.lifeboat.role label of objects Lifeboat makes itself (app
// containers carry their process type: web, worker, release…).
const (
	RoleDatabase = "database"
	RoleNetwork  = "network"
	RoleWeb      = "web"
	// RoleTemplate marks the throwaway container that initializes a data
	// directory template.
	RoleTemplate = "template"
	// RoleProbe marks the engine's short-lived containers that read a
	// file out of an image.
	RoleProbe = "probe"
)

// Scope names the objects of one app for one purpose: the standby (every
// generation), or one drill (one database, one network of its own).
type Scope struct {
	app   string
	drill string // the drill's id; "" for the standby
}

// Standby is the scope of the app's standby.
func Standby(app string) Scope { return Scope{app: app} }

// Drill is the scope of the app's drill that started at start: its names
// and labels carry the drill's id, so that it never touches the standby's
// objects nor an earlier drill's records.
func Drill(app string, start time.Time) Scope {
	return Scope{app: app, drill: DrillID(start)}
}

// DrillID is a drill's id as its Docker names carry it: its start time,
// lower case (Docker names are case-sensitive, DNS aliases are not).
func DrillID(start time.Time) string {
	return strings.ToLower(start.UTC().Format("20060102T150405"))
}

// App is the scope's app.
func (s Scope) App() string { return s.app }

// IsDrill says whether the scope is a drill's.
func (s Scope) IsDrill() bool { return s.drill != "" }

// Purpose is the scope's io.lifeboat.purpose label.
func (s Scope) Purpose() string {
	if s.IsDrill() {
		return PurposeDrill
	}
	return PurposeStandby
}

// Prefix starts the name of every object of the scope.
func (s Scope) Prefix() string {
	if s.IsDrill() {
		return "lifeboat-" + s.app + "-drill-" + s.drill
	}
	return "lifeboat-" + s.app
}

// Network is the scope's internal network (no egress), where the database
// and the app's containers meet.
func (s Scope) Network() string {
	if s.IsDrill() {
		return s.Prefix()
	}
	return s.Prefix() + "-standby"
}

// PublicNetwork is the app's non-internal network, used while serving.
func (s Scope) PublicNetwork() string { return "lifeboat-" + s.app + "-public" }

// PublishNetwork is the small non-internal network that a database
// publishing its port on the host uses as its primary network (ports
// cannot be published from an internal one).
func (s Scope) PublishNetwork() string { return "lifeboat-" + s.app + "-db-publish" }

// Template is the name of the throwaway container that initializes the
// app's data directory template (one at a time per app, whatever the
// purpose: the templates' lock is held meanwhile).
func (s Scope) Template() string { return "lifeboat-" + s.app + "-template" }

// Database is the name of generation n's database container.
func (s Scope) Database(n int) string {
	if s.IsDrill() {
		return s.Prefix() + "-db"
	}
	return fmt.Sprintf("%s-db-%d", s.Prefix(), n)
}

// DatabaseVolume is the name of generation n's data volume (the
// container's name: one volume per container).
func (s Scope) DatabaseVolume(n int) string { return s.Database(n) }

// AppPrefix starts the names of generation n's app containers
// ({prefix}-{type}-{i}).
func (s Scope) AppPrefix(n int) string {
	if s.IsDrill() {
		return s.Prefix()
	}
	return fmt.Sprintf("%s-g%d", s.Prefix(), n)
}

// generation is the io.lifeboat.generation label of generation n's
// objects: "drill-{id}" in a drill, n for n > 0, none for objects that
// belong to no generation (n = 0: the networks).
func (s Scope) generation(n int) string {
	if s.IsDrill() {
		return "drill-" + s.drill
	}
	if n > 0 {
		return strconv.Itoa(n)
	}
	return ""
}

// Labels are the labels of an object of generation n (0: of none) with
// role ("" leaves the role out: the app's containers add their process type).
func (s Scope) Labels(role string, n int) map[string]string {
	l := map[string]string{engine.LabelApp: s.app, engine.LabelPurpose: s.Purpose()}
	if role != "" {
		l[engine.LabelRole] = role
	}
	if g := s.generation(n); g != "" {
		l[engine.LabelGeneration] = g
	}
	return l
}

// Filter finds the scope's objects: generation n's (n = 0: of every
// generation; a drill has one), with role when role is not "".
func (s Scope) Filter(role string, n int) map[string]string {
	return s.Labels(role, n)
}

// PurposeFilter finds every object of the app with the scope's purpose:
// for a drill scope, those of every drill of the app (a killed drill's
// leftovers included).
func (s Scope) PurposeFilter(role string) map[string]string {
	f := map[string]string{engine.LabelApp: s.app, engine.LabelPurpose: s.Purpose()}
	if role != "" {
		f[engine.LabelRole] = role
	}
	return f
}

// DrillsFilter finds the objects of every drill of the app.
func (s Scope) DrillsFilter() map[string]string {
	return Scope{app: s.app, drill: "any"}.PurposeFilter("")
}

// AppFilter finds every object of the app, whatever its purpose, with role
// when role is not "".
func (s Scope) AppFilter(role string) map[string]string {
	f := map[string]string{engine.LabelApp: s.app}
	if role != "" {
		f[engine.LabelRole] = role
	}
	return f
}

// GenerationOf is the generation number an object's labels name, 0 for
// none (a network, a drill's objects).
func GenerationOf(labels map[string]string) int {
	n, err := strconv.Atoi(labels[engine.LabelGeneration])
	if err != nil {
		return 0
	}
	return n
}
