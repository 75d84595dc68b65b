package templates

import "embed"

// SystemdUnits holds the text/templates of the systemd units that
// `lifeboat schedule` renders (failover/schedule executes them):
// lifeboat-job.service.tmpl and lifeboat-job.timer.tmpl for each app's
// refresh, drill and check, lifeboat-serve.service.tmpl for `lifeboat
// serve`, and hardening.tmpl, the sandbox they share.
//
//go:embed systemd/*.tmpl
var SystemdUnits embed.FS
