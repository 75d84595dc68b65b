package bucket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/lifeboat-dr/lifeboat/templates"
)

// Role is whose policy is rendered.
type Role string

const (
	// Writer is the backup job: a drop box that can upload (also in parts)
	// under the prefix, and can neither read, list nor delete.
	Writer Role = "writer"
	// Standby is the VPS: it lists the prefix, reads and restores (from
	// Glacier) archives under it and reads the bucket's settings for `bucket
	// check`; it can neither write nor delete (except under the failback
	// prefix, when one is configured).
	Standby Role = "standby"
)

// Roles lists every role, in the order they are printed.
var Roles = []Role{Writer, Standby}

// ErrUnknownRole is returned for a role other than writer or standby.
var ErrUnknownRole = errors.New("unknown role (want writer or standby)")

// PolicyInput is what a policy is rendered for.
type PolicyInput struct {
	Bucket string
	// Prefix is the folder of the archives ("backups/app/DB/"); "" is the
	// whole bucket.
	Prefix string
	// FailbackPrefix, when set, is where the standby uploads failback dumps
	// (failback.s3_prefix): the standby may write and read there only.
	FailbackPrefix string
	// Partition is the ARN partition: "aws" unless set ("aws-cn",
	// "aws-us-gov").
	Partition string
}

var policyTemplates = template.Must(template.New("iam").Funcs(template.FuncMap{
	"json": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
}).ParseFS(templates.IAMPolicies, "iam/*.tmpl"))

// Policy renders the IAM policy of role for in, as indented JSON that can
// be pasted into IAM (or MinIO's mc admin policy create). Errors:
// ErrUnknownRole, or a template error.
func Policy(role Role, in PolicyInput) ([]byte, error) {
	if in.Partition == "" {
		in.Partition = "aws"
	}
	if in.Bucket == "" {
		return nil, errors.New("policy: no bucket")
	}
	var name string
	switch role {
	case Writer:
		name = "writer.json.tmpl"
	case Standby:
		name = "standby.json.tmpl"
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownRole, role)
	}
	var buf bytes.Buffer
	if err := policyTemplates.ExecuteTemplate(&buf, name, in); err != nil {
		return nil, fmt.Errorf("policy %s: %w", role, err)
	}
	// The template is hand-written JSON: prove it is JSON, and print it in
	// one canonical indentation.
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("policy %s: the template did not render JSON: %w", role, err)
	}
	return append(bytes.TrimSpace(out.Bytes()), '\n'), nil
}

// ParseRole parses "writer" or "standby" (any case).
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range Roles {
		if r == known {
			return r, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownRole, s)
}
