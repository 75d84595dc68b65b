package templates

import _ "embed"

// ReportHTML is the html/template of a drill's evidence page
// (failover/report renders it): self-contained, with inline CSS and SVG,
// no script and no external resource.
//
//go:embed report.html.tmpl
var ReportHTML string
