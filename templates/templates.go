// Package templates holds the embedded text files Lifeboat writes or
// prints: the example config, and later systemd units, IAM policies and
// report pages.
package templates

import "embed"

// ExampleConfig is a commented lifeboat.yaml showing every key.
//
//go:embed lifeboat.example.yaml
var ExampleConfig string

// IAMPolicies holds the text/templates of the IAM policies that `lifeboat
// bucket policy` renders (failover/bucket executes them): writer.json.tmpl,
// the backup job's drop box, and standby.json.tmpl, what the VPS may read.
// Each gets .Bucket, .Prefix, .Partition and .FailbackPrefix, and a json
// function that quotes a string.
//
//go:embed iam/*.tmpl
var IAMPolicies embed.FS
