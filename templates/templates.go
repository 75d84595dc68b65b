// Package templates holds the embedded text files Lifeboat writes or
// prints: the example config, and later systemd units, IAM policies and
// report pages.
package templates

import _ "embed"

// ExampleConfig is a commented lifeboat.yaml showing every key.
//
//go:embed lifeboat.example.yaml
var ExampleConfig string
