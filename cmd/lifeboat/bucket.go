package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	s3bucket "github.com/lifeboat-dr/lifeboat/failover/bucket"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

func newBucketCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bucket",
		Short: "The app's bucket itself: IAM policies, lifecycle rule, and a check of what protects the backups",
		Long: `What protects the backups in the app's bucket:

  lifeboat bucket policy      the IAM policies of the backup job (a drop box: it uploads,
                              and can neither read, list nor delete) and of the standby
                              (it lists and reads the prefix, and can neither write nor delete)
  lifeboat bucket lifecycle   the lifecycle rule from bucket.* (to Glacier, expiration,
                              incomplete uploads aborted), merged with the bucket's other
                              rules; --apply writes it
  lifeboat bucket check       versioning, Object Lock, encryption, public access, the
                              lifecycle, and whether the standby's key can write or delete`,
	}
	c.AddCommand(newBucketPolicyCmd(g), newBucketLifecycleCmd(g), newBucketCheckCmd(g))
	return c
}

func newBucketPolicyCmd(g *globals) *cobra.Command {
	var role string
	c := &cobra.Command{
		Use:   "policy [--role writer|standby]",
		Short: "Print the least-privilege IAM policies of the backup job (writer) and of the standby",
		Long: `Print the IAM policies for the app's bucket and prefix, to paste into IAM (or
mc admin policy create): the writer (the backup job) may upload under the prefix,
in parts too, and abort its uploads; it can neither read, list nor delete. The
standby (this VPS) may list the prefix, read and restore (from Glacier) the archives,
and read the bucket's settings for lifeboat bucket check; it can neither write nor
delete, except under failback.s3_prefix when that is set.

Without --role both are printed, each after a heading on stderr; with --role, only
that one (plain JSON on stdout). --json prints {"policies": {"writer": …, "standby": …}}
with the policies as objects, for Terraform (jsonencode) and scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			roles := s3bucket.Roles
			if role != "" {
				r, err := s3bucket.ParseRole(role)
				if err != nil {
					return usagef("--role: %v", err)
				}
				roles = []s3bucket.Role{r}
			}
			in := failover.BucketPolicyInput(app)
			rendered := map[s3bucket.Role][]byte{}
			doc := struct {
				App      string                     `json:"app"`
				Bucket   string                     `json:"bucket"`
				Prefix   string                     `json:"prefix"`
				Policies map[string]json.RawMessage `json:"policies"`
			}{app.Name, app.S3.Bucket, app.S3.Prefix, map[string]json.RawMessage{}}
			for _, r := range roles {
				b, err := s3bucket.Policy(r, in)
				if err != nil {
					return err
				}
				rendered[r] = b
				doc.Policies[string(r)] = json.RawMessage(b)
			}
			return g.emit(doc, func(w io.Writer) {
				for _, r := range roles {
					if len(roles) > 1 {
						fmt.Fprintf(g.stderr, "# %s policy (%s)\n", r, roleSummary(r))
					}
					w.Write(rendered[r])
				}
			})
		},
	}
	c.Flags().StringVar(&role, "role", "", "writer or standby (default: both)")
	return c
}

func roleSummary(r s3bucket.Role) string {
	if r == s3bucket.Writer {
		return "the backup job: uploads only"
	}
	return "this VPS: lists and reads only"
}

func newBucketLifecycleCmd(g *globals) *cobra.Command {
	var apply bool
	var credentialsFile, profile string
	c := &cobra.Command{
		Use:   "lifecycle [--apply] [--credentials-file FILE] [--profile P]",
		Short: "Render (and with --apply put) the bucket's lifecycle rule from bucket.*, keeping other rules",
		Long: `Lifeboat's rule covers the archives under s3.prefix and has the ID
"lifeboat:<prefix>": archives move to bucket.glacier_class (GLACIER) after
bucket.glacier_after (30d), are deleted after bucket.expire_after (default never;
their old versions too, that long after they were replaced), and unfinished
multipart uploads are aborted after bucket.abort_multipart_after (7d).

The bucket's other rules are kept exactly as they are; those that also touch the
archives are named. Without --apply the whole resulting configuration is printed
(the JSON that aws s3api put-bucket-lifecycle-configuration takes) and nothing is
changed. --apply writes it and reads it back; it refuses to write when the current
rules cannot be read. The standby's own credentials must not be allowed to change the
bucket: pass an administrator's in a shared-credentials file (mode 0600) with
--credentials-file and --profile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			if credentialsFile != "" {
				if err := fsutil.CheckSecretFile(credentialsFile); err != nil {
					return usagef("--credentials-file: %v", err)
				}
			}
			res, err := failover.ApplyBucketLifecycle(cmd.Context(), app, credentialsFile, profile, !apply)
			if res == nil {
				return err
			}
			if res.Warning != "" {
				g.warn("%s", res.Warning)
			}
			cfg := lifecycleDocument(res)
			doc := struct {
				*failover.LifecycleResult
				Configuration any `json:"lifecycle_configuration"`
			}{res, cfg}
			if eerr := g.emit(doc, func(w io.Writer) {
				for _, ch := range res.Changes {
					line := fmt.Sprintf("%-9s %s", ch.Action, ch.ID)
					if ch.Note != "" {
						line += ": " + ch.Note
					}
					fmt.Fprintln(g.stderr, line)
				}
				switch {
				case res.Applied:
					fmt.Fprintf(g.stderr, "applied to s3://%s, read back %s\n", res.Bucket, res.ReadBack)
				default:
					b, _ := json.MarshalIndent(cfg, "", "  ")
					w.Write(append(b, '\n'))
					fmt.Fprintln(g.stderr, "nothing changed: --apply writes it")
				}
			}); eerr != nil {
				return eerr
			}
			return err
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "write the merged configuration to the bucket")
	c.Flags().StringVar(&credentialsFile, "credentials-file", "", "AWS shared-credentials file (mode 0600) of someone allowed to change the bucket (default: s3.credentials_file)")
	c.Flags().StringVar(&profile, "profile", "", "its profile (default: s3.profile)")
	return c
}

// lifecycleDocument is the configuration as the AWS CLI writes it: the
// SDK's field names, without the null fields.
func lifecycleDocument(res *failover.LifecycleResult) any {
	b, _ := json.Marshal(struct{ Rules any }{res.Rules})
	var v any
	_ = json.Unmarshal(b, &v)
	return dropNulls(v)
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if x == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(x)
		}
	case []any:
		for i := range t {
			t[i] = dropNulls(t[i])
		}
	}
	return v
}

func newBucketCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check what protects the backups: versioning, Object Lock, encryption, public access, lifecycle, standby key",
		Long: `Check the app's bucket with the standby's own credentials (the app's s3 settings):

  lifecycle              Lifeboat's rule is there as bucket.* asks, and no other rule
                         deletes the archives sooner
  versioning             enabled
  object lock            enabled, with a default retention (what keeps a leaked key or
                         ransomware from emptying the bucket)
  encryption             a default encryption
  public access          an unsigned listing, and an unsigned read of an archive, are refused
  standby cannot write   a write of a probe name next to the archives is refused
  standby cannot delete  a delete of that name is refused

With no credentials at all (no s3.credentials_file, nothing from the AWS default chain)
one finding, credentials, says so and where they come from; only public access runs.
Exit 1 when any finding fails; each says what to do. With bucket.check: true the same
findings are part of lifeboat check.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			r, err := failover.CheckBucket(cmd.Context(), app)
			if err != nil {
				return err
			}
			if err := g.emit(r, func(w io.Writer) {
				fs := make([]failover.Finding, len(r.Findings))
				for i, f := range r.Findings {
					fs[i] = failover.Finding(f)
				}
				printFindings(w, fs)
			}); err != nil {
				return err
			}
			if !r.OK {
				failed := 0
				for _, f := range r.Findings {
					if !f.OK {
						failed++
					}
				}
				return fmt.Errorf("bucket check of s3://%s/%s: %d finding(s) failed", r.Bucket, r.Prefix, failed)
			}
			return nil
		},
	}
}

// printFindings prints check findings, one a line, with what to do under
// each failing one.
func printFindings(w io.Writer, findings []failover.Finding) {
	width := 18
	for _, f := range findings {
		width = max(width, len(f.Name))
	}
	for _, f := range findings {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-*s %s\n", mark, width, f.Name, f.Detail)
		if !f.OK && f.Fix != "" {
			fmt.Fprintf(w, "     %-*s → %s\n", width, "", f.Fix)
		}
	}
}
