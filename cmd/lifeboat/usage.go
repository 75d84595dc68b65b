package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
	"github.com/lifeboat-dr/lifeboat/internal/suggest"
)

// The usage contract, the same for every command, including those added
// later: it is applied to the whole command tree after it is built.
//
//   - An unknown command or subcommand, an argument a command does not
//     take, a missing subcommand and a bad flag are usage errors (exit 2)
//     naming the command, with the name probably meant when one is close.
//   - --log-level takes debug, info, warn or error.
//   - With --json, stdout carries exactly one JSON document, on success
//     (the command's result) and on failure: {"error", "exit_code",
//     "command", the result's fields when the command got that far, and
//     "problems" for an invalid config}.

// logLevels are the values of --log-level and log_level.
var logLevels = []string{"debug", "info", "warn", "error"}

// applyUsageContract makes every command of root follow the contract.
func applyUsageContract(g *globals, root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(flagError)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if why := cmd.Annotations[noJSON]; why != "" && g.json {
			return usagef("%s has no --json output: %s", cmd.CommandPath(), why)
		}
		if g.logLevel != "" && !slices.Contains(logLevels, g.logLevel) {
			return usagef("%s: --log-level %q: must be one of %s%s", cmd.CommandPath(), g.logLevel,
				strings.Join(logLevels, ", "), suggest.Phrase(g.logLevel, logLevels, nil))
		}
		return nil
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = subcommandArgs
			c.DisableFlagsInUseLine = true
			c.RunE = func(cmd *cobra.Command, args []string) error {
				fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
				return usagef("%swhich command? %s (see %s --help)", commandPrefix(cmd), subcommandList(cmd), cmd.CommandPath())
			}
		case c.Name() == "help":
			// cobra's: any topic, and an unknown one is said so.
			annotate(c, noJSON, "it prints text")
		default:
			c.Args = argsAsUsage(c.Args)
		}
		if c.HasParent() && c.Parent().Name() == "completion" {
			annotate(c, noJSON, "it prints a shell script")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// noJSON, as a command's annotation, says why the command has no JSON
// output: --json is refused (exit 2) rather than ignored.
const noJSON = "lifeboat/no-json"

func annotate(c *cobra.Command, key, value string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[key] = value
}

// subcommandArgs refuses an argument of a command that only groups
// subcommands: it is an unknown subcommand.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
			names = append(names, s.Aliases...)
		}
	}
	hint := suggest.Phrase(args[0], names, nil)
	if hint == "" {
		hint = " (commands: " + subcommandList(cmd) + ")"
	}
	return usagef("%sunknown command %q%s; see %s --help", commandPrefix(cmd), args[0], hint, cmd.CommandPath())
}

// commandPrefix is "lifeboat config: " for a subcommand, and "" for the
// root, whose name starts every error line already.
func commandPrefix(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return ""
	}
	return cmd.CommandPath() + ": "
}

func subcommandList(cmd *cobra.Command) string {
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// argsAsUsage makes a command's argument check a usage error that names the
// command and shows how it is called. A command that declares no check
// takes no arguments.
func argsAsUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.NoArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		if err == nil {
			return nil
		}
		if check(cmd, []string{"x"}) != nil && len(args) > 0 {
			// A command that takes no arguments at all.
			hint := suggest.Phrase(args[0], flagNames(cmd), func(s string) string { return "--" + s })
			if hint == "" && cmd.HasParent() {
				// `lifeboat fetch archives`: a command typed after another.
				var siblings []string
				for _, s := range cmd.Root().Commands() {
					siblings = append(siblings, s.Name())
				}
				if slices.Contains(siblings, args[0]) {
					hint = fmt.Sprintf(" (%s is a command of its own: lifeboat %s)", args[0], args[0])
				}
			}
			return usagef("%s takes no arguments, got %q%s; usage: %s", cmd.CommandPath(), args[0], hint, cmd.UseLine())
		}
		return usagef("%s: %v; usage: %s", cmd.CommandPath(), err, cmd.UseLine())
	}
}

var unknownFlagRE = regexp.MustCompile(`^unknown flag: --([^ =]+)`)

// flagError names the command and, for an unknown flag, the flag meant.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if m := unknownFlagRE.FindStringSubmatch(msg); m != nil {
		msg += suggest.Phrase(m[1], flagNames(cmd), func(s string) string { return "--" + s })
	}
	return usageError{fmt.Errorf("%s: %s; see %s --help", cmd.CommandPath(), msg, cmd.CommandPath())}
}

// flagNames are the long flags cmd accepts, its own and inherited.
func flagNames(cmd *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	cmd.LocalFlags().VisitAll(add)
	cmd.InheritedFlags().VisitAll(add)
	return names
}

// wantsJSON says whether args ask for --json, for errors found before or
// while the flags are parsed.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true", "--json=1", "--json=t", "--json=TRUE", "--json=True":
			return true
		}
	}
	return false
}

// writeJSONDocument prints the one JSON document of a --json run: the
// command's result on success; on failure the error, the exit code, the
// command and, when the command got that far, its result's fields (a
// result that is not a JSON object is under "result").
func writeJSONDocument(w io.Writer, command string, result any, hasResult bool, err error, code int) error {
	var out []byte
	var rerr error
	if hasResult {
		out, rerr = json.Marshal(result)
		if rerr != nil {
			return rerr
		}
	}
	if err != nil {
		out, rerr = failureDocument(command, out, err, code)
		if rerr != nil {
			return rerr
		}
	}
	if out == nil {
		return nil
	}
	tw := textsafe.NewWriter(w)
	iw := newIndentWriter(tw)
	if _, err := iw.Write(append(out, '\n')); err != nil {
		return err
	}
	return tw.Flush()
}

// failureDocument builds {"error", "exit_code", "command", ["problems"],
// result fields...}; the result's own fields of these names give way.
func failureDocument(command string, result []byte, err error, code int) ([]byte, error) {
	head := struct {
		Error    string           `json:"error"`
		ExitCode int              `json:"exit_code"`
		Command  string           `json:"command"`
		Problems []config.Problem `json:"problems,omitempty"`
	}{Error: err.Error(), ExitCode: code, Command: command}
	var ie *config.InvalidError
	if errors.As(err, &ie) {
		head.Problems = ie.Problems
	}
	b, merr := json.Marshal(head)
	if merr != nil {
		return nil, merr
	}
	if result == nil || string(result) == "null" {
		return b, nil
	}
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1])
	if bytes.HasPrefix(bytes.TrimSpace(result), []byte("{")) {
		dec := json.NewDecoder(bytes.NewReader(result))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			key := t.(string)
			if key == "error" || key == "exit_code" || key == "command" || key == "problems" {
				continue
			}
			k, _ := json.Marshal(key)
			buf.WriteByte(',')
			buf.Write(k)
			buf.WriteByte(':')
			buf.Write(v)
		}
	} else {
		buf.WriteString(`,"result":`)
		buf.Write(result)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
