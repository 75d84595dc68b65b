package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// takesArgs lists the commands that take positional arguments, and how
// many (-1: any number). Every other command takes none. A new command
// with arguments must be added here, or TestUsageContract fails for it.
var takesArgs = map[string]int{
	"lifeboat help":    -1,
	"lifeboat db psql": -1,
	"lifeboat report":  1,
	"lifeboat inspect": 1,
}

// safeFlags are added to a command's run with the valid config in
// TestUsageContract so that it fails before touching this machine: a
// relative --bin is refused (exit 2) before schedule install writes or
// starts anything.
var safeFlags = map[string][]string{
	"lifeboat schedule install": {"--bin", "relative/lifeboat"},
	"lifeboat schedule units":   {"--bin", "relative/lifeboat"},
}

// allCommands walks the command tree as run builds it, cobra's help and
// completion included, so that commands added later are covered too.
func allCommands() []*cobra.Command {
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		out = append(out, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return out
}

func commandArgs(c *cobra.Command) []string {
	return strings.Fields(c.CommandPath())[1:]
}

// oneJSONDocument decodes stdout, which must be exactly one JSON document.
func oneJSONDocument(t *testing.T, what, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s: stdout is not a JSON document: %v\n%s", what, err, stdout)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: stdout holds more than one JSON document (%v):\n%s", what, err, stdout)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		// A successful result may be a list (generations, drills).
		return nil
	}
	return doc
}

// unreachableConfig is a valid config whose S3 endpoint and Docker daemon
// cannot be reached and whose serve.listen is taken.
func unreachableConfig(t *testing.T) string {
	t.Helper()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there any more
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = usage\naws_secret_access_key = usage-test-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "lifeboat.yaml")
	body := fmt.Sprintf(`state_dir: %s
log_level: error
serve: {listen: %q}
apps:
  - name: usagetest
    s3: {bucket: b, endpoint: "http://%s", path_style: true, credentials_file: %s}
    download: {retries: 0}
`, state, taken.Addr().String(), deadAddr, creds)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "no-docker.sock"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return cfg
}

// TestUsageContract holds every command, cobra's own included, to one
// contract: a bad flag and an argument it does not take exit 2 naming the
// command; with --json, stdout is one JSON document whether the command
// succeeds or fails, and a failure's document has the error and exit code.
func TestUsageContract(t *testing.T) {
	t.Setenv("LIFEBOAT_CONFIG", "")
	t.Setenv("LIFEBOAT_APP", "")
	cfg := unreachableConfig(t)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	cmds := allCommands()
	if len(cmds) < 25 {
		t.Fatalf("only %d commands found in the tree", len(cmds))
	}
	for _, c := range cmds {
		path := c.CommandPath()
		args := commandArgs(c)
		t.Run(strings.ReplaceAll(path, " ", "_"), func(t *testing.T) {
			code, _, stderr := lb(t, append(append([]string{}, args...), "--no-such-flag")...)
			if code != exitUsage || !strings.Contains(stderr, path+": unknown flag: --no-such-flag") {
				t.Errorf("bad flag: exit %d, want %d naming %q:\n%s", code, exitUsage, path, stderr)
			}

			if n, ok := takesArgs[path]; !ok || n >= 0 {
				extra := make([]string, n+1)
				for i := range extra {
					extra[i] = fmt.Sprintf("extra%d", i)
				}
				code, _, stderr = lb(t, append(append([]string{}, args...), extra...)...)
				if code != exitUsage || !strings.Contains(stderr, path) {
					t.Errorf("%d argument(s): exit %d, want %d naming %q:\n%s", len(extra), code, exitUsage, path, stderr)
				}
			}

			for _, config := range []string{missing, cfg} {
				line := append([]string{"--config", config}, args...)
				if config == cfg {
					line = append(line, safeFlags[path]...)
				}
				line = append(line, "--json")
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				var o, e bytes.Buffer
				code := run(ctx, line, &o, &e)
				cancel()
				what := fmt.Sprintf("lifeboat %s (exit %d, stderr %q)", strings.Join(line, " "), code, e.String())
				doc := oneJSONDocument(t, what, o.String())
				if config == cfg && (path == "lifeboat config check" || path == "lifeboat version") && code != exitOK {
					t.Fatalf("%s: the test's config must be valid", what)
				}
				if config == cfg && path == "lifeboat fetch" && (code != exitFailed || !strings.Contains(e.String(), "unreachable")) {
					t.Errorf("%s: want exit %d, S3 unreachable", what, exitFailed)
				}
				if code == exitOK {
					continue
				}
				if doc == nil {
					t.Fatalf("%s: the failure document is not an object:\n%s", what, o.String())
				}
				if got, _ := doc["exit_code"].(float64); int(got) != code {
					t.Errorf("%s: exit_code %v in the document", what, doc["exit_code"])
				}
				if msg, _ := doc["error"].(string); msg == "" {
					t.Errorf("%s: no error in the document:\n%s", what, o.String())
				}
				if doc["command"] != path {
					t.Errorf("%s: command %v in the document, want %q", what, doc["command"], path)
				}
				_, hasArgs := takesArgs[path]
				needsConfig := !c.HasSubCommands() && !hasArgs && c.Annotations[noJSON] == ""
				if config == missing && needsConfig && (code != exitUsage || !strings.Contains(doc["error"].(string), "does not exist")) {
					t.Errorf("%s: a missing config must exit %d saying so", what, exitUsage)
				}
			}
		})
	}
}

func TestUsageErrorsSuggest(t *testing.T) {
	t.Setenv("LIFEBOAT_CONFIG", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"fecth"}, `unknown command "fecth" (did you mean fetch?)`},
		{[]string{"config", "chek"}, `lifeboat config: unknown command "chek" (did you mean check?)`},
		{[]string{"config"}, "lifeboat config: which command? check, example"},
		{[]string{}, "lifeboat: which command? archives, "},
		{[]string{"fetch", "extra"}, `lifeboat fetch takes no arguments, got "extra"`},
		{[]string{"fetch", "json"}, `got "json" (did you mean --json?)`},
		{[]string{"fetch", "archives"}, "archives is a command of its own: lifeboat archives"},
		{[]string{"fetch", "--jsno"}, "lifeboat fetch: unknown flag: --jsno (did you mean --json?)"},
		{[]string{"report", "a", "b"}, "lifeboat report: accepts at most 1 arg(s), received 2; usage: lifeboat report [ID|latest]"},
		{[]string{"--log-level", "loud", "version"}, `--log-level "loud": must be one of debug, info, warn, error`},
		{[]string{"--log-level", "debg", "version"}, "(did you mean debug?)"},
		{[]string{"--config", "nope.yaml", "fetch"}, "nope.yaml (from --config) does not exist (configs are searched in this order: --config, LIFEBOAT_CONFIG, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml)"},
		{[]string{"schedule", "units", "--bin", "relative/lifeboat"}, "--bin relative/lifeboat: name the lifeboat binary by an absolute path"},
		{[]string{"restore", "--archive", "/nonexistent/shop.dump"}, "--archive /nonexistent/shop.dump: no such file"},
		{[]string{"serve", "--json"}, "lifeboat serve has no --json output: it runs until stopped"},
		{[]string{"completion", "bash", "--json"}, "lifeboat completion bash has no --json output: it prints a shell script"},
	}
	for _, c := range cases {
		code, stdout, stderr := lb(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("lifeboat %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
		if stdout != "" && !strings.Contains(strings.Join(c.args, " "), "--json") {
			t.Errorf("lifeboat %s: a usage error printed on stdout: %q", strings.Join(c.args, " "), stdout)
		}
	}
}

// TestConfigErrorsInTheJSONDocument: an invalid config's problems are
// all in the failure document, each with its key.
func TestConfigErrorsInTheJSONDocument(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lifeboat.yaml")
	body := fmt.Sprintf("state_dir: %s\napps:\n  - name: shop\n    s3: {buckt: b}\n", filepath.Join(dir, "state"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := lb(t, "--config", cfg, "fetch", "--json")
	doc := oneJSONDocument(t, "fetch --json with a typo'd bucket", stdout)
	if code != exitUsage || doc == nil {
		t.Fatalf("exit %d, want %d:\n%s\n%s", code, exitUsage, stdout, stderr)
	}
	var got struct {
		Problems []struct{ Key, Message string }
	}
	b, _ := json.Marshal(doc)
	json.Unmarshal(b, &got)
	want := map[string]string{
		"apps[shop].s3.bucket": "is required (the bucket your backup job writes to)",
		"apps[shop].s3.buckt":  "unknown key (did you mean bucket?)",
	}
	if len(got.Problems) != len(want) {
		t.Fatalf("problems %+v, want %v", got.Problems, want)
	}
	for _, p := range got.Problems {
		if want[p.Key] != p.Message {
			t.Errorf("problem %s: %q, want %q", p.Key, p.Message, want[p.Key])
		}
		if !strings.Contains(stderr, p.Key+": "+p.Message) {
			t.Errorf("stderr does not say %s: %s:\n%s", p.Key, p.Message, stderr)
		}
	}
}
