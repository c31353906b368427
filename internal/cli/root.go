// Package cli is fanout's command line: it maps flags to one engine Config,
// wires input -> engine -> outputs, and turns the outcome into an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fanout/fanout/fetch"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0   // every result accepted
	ExitFailures    = 1   // at least one result not accepted
	ExitUsage       = 2   // bad flags or input files; nothing was fetched
	ExitIncomplete  = 3   // the run could not finish: output not writable, input unreadable
	ExitInterrupted = 130 // stopped by Ctrl-C
)

// Env is what the command line runs against: its streams and the signal
// that asks it to stop. Stdout and Stderr that are terminals get colour and
// a progress bar.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interrupt is closed on the first Ctrl-C: start nothing new, finish
	// what is in flight, print the summary. Cancelling the context passed
	// to Main (the second Ctrl-C) aborts at once.
	Interrupt <-chan struct{}
	// Again, called once Interrupt is closed, names what asks for the
	// abort, as the first one's acknowledgement tells: "Ctrl-C" after a
	// Ctrl-C, "SIGTERM" after a SIGTERM. nil reads as Ctrl-C.
	Again func() string
	// OneCore, when set, is called by the commands whose work a second P
	// does not speed up (see askOneCore); cmd/fanout sets GOMAXPROCS to 1
	// there. Tests leave it nil, so that a command run in process keeps
	// the test's cores.
	OneCore func()
	// Procs, when set, is runtime.GOMAXPROCS: n < 1 reads the process's
	// Ps, n ≥ 1 sets them. A worker uses it to share the machine's cores
	// with the other busy workers on it (see shareCores). cmd/fanout
	// leaves it nil when the environment sets GOMAXPROCS.
	Procs func(n int) int
}

// subcommands are the commands that live in their own files (runs, show,
// diff, report, ...); each file adds its constructor from an init func so
// that adding a command touches only its own file.
var subcommands []func(Env) *cobra.Command

// usageError marks errors that exit with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, env Env, args []string) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root, refuseHTTPXFlags(root, args)
	if err == nil {
		cmd, err = root.ExecuteContextC(ctx)
	}
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	default:
		// cobra's own flag errors and ours: one line naming the problem.
		msg := err.Error()
		for _, line := range strings.Split(msg, "\n") {
			fmt.Fprintf(env.Stderr, "fanout: %s\n", line)
		}
		if !errors.As(err, new(usageError)) {
			// The help of the command whose flags or arguments were
			// wrong: a subcommand's flags are not in fanout --help.
			if cmd == nil {
				cmd = root
			}
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return ExitUsage
	}
}

func newRoot(env Env) *cobra.Command {
	f := &flags{}
	root := &cobra.Command{
		Use:   "fanout [flags] [URL...]",
		Short: "Fetch many URLs concurrently and report what happened to each",
		Long: `fanout fetches any number of URLs concurrently, politely, and reports for
each one its status, timing, size, title or classified error.

Targets come from arguments, from -i FILE (repeatable, - for stdin), or from
stdin when it is not a terminal. One target per line; lines starting with #
are skipped, as is a comment after a target (white space, then #; a # within
a URL is its fragment). A target without a scheme is tried as https://,
then http://.

Exit status: 0 every result accepted, 1 some result not accepted,
2 usage error, 3 run could not finish (output or input failed), 130 interrupted.`,
		Version:       fetch.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mistypedCommand(cmd, args); err != nil {
				return err
			}
			return runMain(cmd.Context(), env, f, args)
		},
	}
	root.Flags().SortFlags = false
	f.register(root.Flags())
	root.AddCommand(newDemo(env))
	for _, mk := range subcommands {
		root.AddCommand(mk(env))
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SuggestionsMinimumDistance = 2 // cobra's default for unknown commands; 0 here would suggest by prefix only
	root.SetFlagErrorFunc(flagError)
	return root
}

// mistypedCommand refuses a first argument that reads as a subcommand
// mistyped ("reprot"): a dotless word without a port is also a bare host,
// and fanout would look it up in DNS and fetch it. A host of that name
// is still fetched when written as a URL (https://reprot/).
func mistypedCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || strings.ContainsAny(args[0], ".:/[@") {
		return nil
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		return usageError{fmt.Errorf("%q is not a command (did you mean %s?); to fetch a host of that name, write https://%s/",
			args[0], strings.Join(s, " or "), args[0])}
	}
	// "fanout version", as go and kubectl have it: a flag's name written
	// as a command.
	if f := cmd.Flags().Lookup(args[0]); f != nil {
		return usageError{fmt.Errorf("%q is not a command (did you mean --%s?); to fetch a host of that name, write https://%s/",
			args[0], f.Name, args[0])}
	}
	return nil
}

// flagError words pflag's number errors for people: "invalid argument
// "abc" for "-c, --concurrency" flag: strconv.ParseInt: parsing "abc":
// invalid syntax" becomes "...: want a whole number"; and it names the
// flag meant by an unknown one ("unknown flag: --acept (did you mean
// --accept?)"), which neither cobra nor pflag does. Subcommands inherit it.
func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && strings.HasPrefix(err.Error(), "unknown flag: --") {
		// httpx takes its flags with two dashes as well as one ("--silent",
		// "--json"): the same hint as for one, not a near name of fanout's
		// ("--probe" is not --proxy).
		if name := ne.GetSpecifiedName(); httpxFlags[name] != "" {
			return usageError{fmt.Errorf("--%s is %s flag, not fanout's; %s", name, flagOwner(name), httpxFlags[name])}
		}
		if s := closestFlag(cmd.Flags(), ne.GetSpecifiedName()); s != "" {
			return fmt.Errorf("%w (did you mean --%s?)", err, s)
		}
		return err
	}
	if errors.As(err, &ne) && strings.HasPrefix(err.Error(), "unknown shorthand flag") {
		// "-max-body": a long flag with one dash, as Go's flag package
		// writes them, read as letters. (httpx's never reach pflag:
		// refuseHTTPXFlags.)
		word, _, _ := strings.Cut(ne.GetSpecifiedShortnames(), "=")
		if len(word) > 1 {
			if s := closestFlag(cmd.Flags(), word); s != "" { // "-timeout" is 0 edits from --timeout
				return fmt.Errorf("%w (did you mean --%s?)", err, s)
			}
		}
		return err
	}
	msg := err.Error()
	i := strings.Index(msg, "strconv.Parse")
	if i < 0 {
		return err
	}
	want := "a whole number"
	switch {
	case strings.HasPrefix(msg[i:], "strconv.ParseFloat"):
		want = "a number"
	case strings.HasPrefix(msg[i:], "strconv.ParseBool"):
		want = "true or false"
	}
	if strings.HasSuffix(msg, "value out of range") {
		want += " in range"
	}
	return errors.New(msg[:i] + "want " + want)
}

// closestFlag returns the long name of the flag in fs, hidden ones left
// out, nearest to typed by edit distance (a swap of two letters is one
// edit), or "" when none is near enough to be what was meant: at most two
// edits, and fewer than half of typed's letters.
func closestFlag(fs *pflag.FlagSet, typed string) string {
	best, bestD := "", 3
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		if d := editDistance(typed, fl.Name); d < bestD && 2*d < len(typed) {
			best, bestD = fl.Name, d
		}
	})
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	// Three rows: a swap looks two rows back.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// isTerminal reports whether v is an *os.File open on a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && isTTY(f.Fd())
}

// dumbTerminal reports whether TERM says the terminal can neither move its
// cursor nor show colours (Emacs' M-x shell, some CI log viewers): a
// progress bar or colours there would print their escape sequences as text.
func dumbTerminal() bool { return os.Getenv("TERM") == "dumb" }

// useColor reports whether the text format written to stdout (no -o) or
// to output is coloured, for --color mode: always, or auto with stdout a
// terminal that is not dumb and no NO_COLOR.
func useColor(mode, output string, stdout io.Writer) bool {
	return mode == "always" || mode == "auto" && output == "" &&
		os.Getenv("NO_COLOR") == "" && isTerminal(stdout) && !dumbTerminal()
}

// checkColor says what is wrong with a --color mode, nil if nothing.
func checkColor(mode string) error {
	switch mode {
	case "auto", "always", "never":
		return nil
	}
	return fmt.Errorf("--color %q: want auto, always or never", mode)
}
