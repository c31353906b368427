package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fanout/fanout/internal/humantime"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

func init() {
	subcommands = append(subcommands, newRunsCmd, newShowCmd, newResumeCmd, newDiffCmd)
}

// dbFlag adds --db to a store subcommand.
func dbFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "db", dbDefault(), "the SQLite database `FILE` runs were recorded in ($FANOUT_DB)")
}

// openDB opens an existing database for a subcommand; a missing file is a
// usage error rather than a new empty database.
func openDB(name string) (*store.DB, error) {
	if _, err := os.Stat(name); err != nil {
		return nil, usageError{fmt.Errorf("--db %s: %v", name, unwrapPath(err))}
	}
	db, err := store.Open(name)
	if err != nil {
		return nil, usageError{err}
	}
	return db, nil
}

// textOrJSONL reads the -f of runs and diff, in any case as the main
// command's -f (output.ParseFormat).
func textOrJSONL(format string) (string, error) {
	if f := strings.ToLower(format); f == "text" || f == "jsonl" {
		return f, nil
	}
	return "", fmt.Errorf("--format %q: want text or jsonl", format)
}

// runArg reads a RUN argument: an id, "last" or "last~N".
func runArg(db *store.DB, s string) (store.Run, error) {
	id, err := db.ParseRunID(s)
	if err != nil {
		return store.Run{}, usageError{err}
	}
	r, err := db.Run(id)
	if err != nil {
		return store.Run{}, usageError{err}
	}
	return r, nil
}

func newRunsCmd(env Env) *cobra.Command {
	var dbName, format string
	cmd := &cobra.Command{
		Use:   "runs [flags]",
		Short: "List the runs recorded in a database (--db)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := textOrJSONL(format)
			if err != nil {
				return usageError{err}
			}
			format = f
			db, err := openDB(dbName)
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs()
			if err != nil {
				fmt.Fprintf(env.Stderr, "fanout: runs: %v\n", err)
				return exitError{ExitIncomplete}
			}
			w := bufio.NewWriter(env.Stdout)
			if format == "jsonl" {
				enc := json.NewEncoder(w)
				for _, r := range runs {
					enc.Encode(runJSON(r, shownState(db, r))) // w keeps the first error
				}
			} else {
				fmt.Fprintf(w, "%4s  %-11s  %-19s  %9s  %9s  %8s  %s\n", "RUN", "STATE", "STARTED", "DURATION", "RESULTS", "FAILED", "COMMAND")
				for _, r := range runs {
					dur := "-"
					if !r.FinishedAt.IsZero() {
						dur = humantime.Duration(r.FinishedAt.Sub(r.StartedAt))
					}
					fmt.Fprintf(w, "%4d  %-11s  %-19s  %9s  %9d  %8d  %s\n", r.ID, shownState(db, r),
						r.StartedAt.Local().Format("2006-01-02 15:04:05"), dur, r.Results, r.Failed,
						output.Escape(describeCommand(r)))
				}
			}
			if err := w.Flush(); err != nil {
				// As show: a reader that closed the pipe (fanout runs |
				// head) has what it wanted; any other failure to write
				// is not a usage error.
				if closedPipe(err) {
					return nil
				}
				fmt.Fprintf(env.Stderr, "fanout: runs: %v\n", err)
				return exitError{ExitIncomplete}
			}
			return nil
		},
	}
	dbFlag(cmd.Flags(), &dbName)
	cmd.Flags().StringVarP(&format, "format", "f", "text", "text or jsonl")
	return cmd
}

// describeCommand is a run's command line for people: flags and targets.
func describeCommand(r store.Run) string {
	parts := shownCommand(r.Command)
	parts = append(parts, shownTargets(r.Config.Args)...)
	return strings.Join(parts, " ")
}

// shownTargets are targets given as arguments as shown to people: the
// credentials in a URL's user info replaced by "xxxxx" (the password of
// user:password, the whole of a token given as the user).
func shownTargets(args []string) []string {
	shown := slices.Clone(args)
	for i, a := range shown {
		shown[i] = output.HideUserinfo(a)
	}
	return shown
}

// shownState is a run's state for people: a run marked running that no
// process records (its lock is free) was killed, and resume continues it.
func shownState(db *store.DB, r store.Run) string {
	if r.State == store.StateRunning {
		if recording, known := db.Recording(r.ID); known && !recording {
			return "killed"
		}
	}
	return r.State
}

// shownCommand is a recorded command line as it is shown to people: the
// password of a --proxy URL, the value of a -H header that carries
// credentials and a -d body (a form's password, an API token) are replaced
// by "xxxxx", as in error messages. The database keeps them, since resume
// runs the command line again; runs and report print it, and reports are
// made to be passed around.
func shownCommand(cmd []string) []string {
	shown := slices.Clone(cmd)
	for i, a := range shown {
		if v, ok := strings.CutPrefix(a, "--proxy="); ok {
			shown[i] = "--proxy=" + redactProxy(v)
		} else if v, ok := strings.CutPrefix(a, "--header="); ok {
			shown[i] = "--header=" + redactHeader(v)
		} else if v, ok := strings.CutPrefix(a, "--data="); ok {
			shown[i] = "--data=" + redactData(v)
		}
	}
	return shown
}

// redactData is a -d value as shown to people: "xxxxx", unless it names the
// file the body is read from (@FILE).
func redactData(v string) string {
	if strings.HasPrefix(v, "@") || v == "" {
		return v
	}
	return "xxxxx"
}

// redactHeader is a --header value as shown to people: "Name: xxxxx" when
// the name says the header carries credentials (secretHeader). A header
// removed with "Name:" is shown as given.
func redactHeader(h string) string {
	name, value, ok := strings.Cut(h, ":")
	if !ok || strings.TrimSpace(value) == "" || !secretHeader(name) {
		return h
	}
	return name + ": xxxxx"
}

// secretWords are the parts of a header name that mark its value as a
// credential: Authorization, Proxy-Authorization, Cookie, X-Api-Key,
// X-Auth-Token, X-Vault-Token, X-Client-Secret, X-Session-Id...
var secretWords = []string{"auth", "cookie", "key", "token", "secret", "passw", "session", "credential", "signature"}

// secretHeader reports whether a header named name carries credentials.
// It errs on the side of hiding: a value hidden from a report costs
// little, one shown can leak a production token.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// shownHeaderFlag is the "header" entry of a run's recorded flags as shown
// to people: the headers of its command line, each through redactHeader,
// written as pflag writes a string array.
func shownHeaderFlag(cmd []string) string {
	var hs []string
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--header="); ok {
			hs = append(hs, redactHeader(v))
		}
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(hs) // a strings.Builder does not fail
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

// redactProxy is a proxy URL without its password.
func redactProxy(v string) string {
	if u, err := url.Parse(v); err == nil {
		return u.Redacted()
	}
	return v
}

func runJSON(r store.Run, state string) map[string]any {
	cfg := r.Config
	cfg.Flags = maps.Clone(cfg.Flags)
	if v, ok := cfg.Flags["proxy"]; ok {
		cfg.Flags["proxy"] = redactProxy(v)
	}
	if _, ok := cfg.Flags["header"]; ok {
		cfg.Flags["header"] = shownHeaderFlag(r.Command)
	}
	if v, ok := cfg.Flags["data"]; ok {
		cfg.Flags["data"] = redactData(v)
	}
	cfg.Args = shownTargets(cfg.Args)
	// The key keeps a crafted line from colliding with a chosen URL and
	// hiding it as a duplicate, in a resume too: a listing, which ends up
	// in CI logs, does not hand it out. The resume reads it from the
	// database.
	cfg.DedupeKey = ""
	m := map[string]any{
		"id": r.ID, "state": state, "started_at": r.StartedAt, "finished_at": nil,
		"command": shownCommand(r.Command), "config": cfg, "results": r.Results, "failed": r.Failed,
		"low_water": r.LowWater, "offsets": r.Offsets,
	}
	if !r.FinishedAt.IsZero() {
		m["finished_at"] = r.FinishedAt
	}
	return m
}

func newShowCmd(env Env) *cobra.Command {
	var dbName, format, outName, color string
	var failedOnly, acceptedOnly bool
	cmd := &cobra.Command{
		Use:   "show [flags] RUN",
		Args:  wantArgs("RUN (a run id from fanout runs, last, or last~N: the Nth run before the last)"),
		Short: "Write a recorded run's results again, in any output format",
		Long: `show writes the results of run RUN (an id from fanout runs, last, or last~N
for the Nth run before the last) in input order, in the format asked for,
exactly as the run produced them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkVerdictFlags(failedOnly, acceptedOnly); err != nil {
				return usageError{err}
			}
			if err := checkColor(color); err != nil {
				return usageError{err}
			}
			db, err := openDB(dbName)
			if err != nil {
				return err
			}
			defer db.Close()
			run, err := runArg(db, args[0])
			if err != nil {
				return err
			}
			acc, err := output.ParseAccept(run.Config.Accept)
			if err != nil {
				acc = output.DefaultAccept()
			}
			if err := checkOutput(outName, dbFiles(dbName)...); err != nil {
				return usageError{err}
			}
			out, closeOut, err := openOutput(env, outName)
			if err != nil {
				return openError(env, err)
			}
			enc, err := output.NewEncoder(format, out, output.EncoderOptions{Accept: acc, Color: useColor(color, outName, env.Stdout)})
			if err != nil {
				closeOut()
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			only := store.AllResults
			switch {
			case failedOnly:
				only = store.FailedOnly
			case acceptedOnly:
				only = store.AcceptedOnly
			}
			for rec, err := range db.Records(run.ID, only) {
				if err == nil {
					err = enc.Encode(rec.Result)
				}
				if err != nil {
					closeOut()
					return showFailed(env, outName, err)
				}
			}
			err = enc.Flush()
			if cerr := closeOut(); err == nil {
				err = cerr
			}
			if err != nil {
				return showFailed(env, outName, err)
			}
			return nil
		},
	}
	dbFlag(cmd.Flags(), &dbName)
	cmd.Flags().StringVarP(&format, "format", "f", "jsonl", "output format: "+strings.Join(output.Formats, ", ")+" (url: each result's URL as fetched, one a line, nothing else)")
	cmd.Flags().StringVarP(&outName, "output", "o", "", "write to `FILE` instead of stdout")
	cmd.Flags().BoolVar(&failedOnly, "failed", false, "only the results the run did not accept")
	cmd.Flags().BoolVar(&acceptedOnly, "accepted", false, "only the results the run accepted")
	cmd.Flags().StringVar(&color, "color", "auto", "colour the text format: auto, always or never (NO_COLOR is honoured)")
	return cmd
}

// showFailed reports why show stopped. A reader that closed stdout (fanout
// show last | head) has what it asked for: show stops quietly and exits 0,
// as other Unix readers do, rather than print an error into a pipeline. The
// run itself fails on a closed stdout instead (see cmd/fanout), because
// there the results it could not write are lost.
func showFailed(env Env, outName string, err error) error {
	if outName == "" && closedPipe(err) {
		return nil
	}
	fmt.Fprintf(env.Stderr, "fanout: show: %v\n", err)
	return exitError{ExitIncomplete}
}

// wantArgs accepts exactly one positional argument per name and says which
// are missing or extra, where cobra's check says only "accepts 2 arg(s),
// received 1".
func wantArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return fmt.Errorf("missing %s", strings.Join(names[len(args):], " and "))
		case len(args) > len(names):
			return fmt.Errorf("unexpected argument %q: want %s", args[len(names)], strings.Join(names, " "))
		}
		return nil
	}
}

// closedPipe reports whether err is a write to a pipe whose reader is gone
// (SIGPIPE is ignored, see cmd/fanout).
func closedPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }

// closedPipeSaid is how the main command and collect say that the reader
// of their output (stdout, or -o OUTPUT when set) closed it: not "write
// /dev/stdout: broken pipe", which names a file the user never gave.
func closedPipeSaid(output string) string {
	out := "stdout"
	if output != "" {
		out = "-o " + output
	}
	return "writing results: the reader of " + out + " closed it (broken pipe)"
}

func newResumeCmd(env Env) *cobra.Command {
	var dbName string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "resume [flags] RUN",
		Args:  wantArgs("RUN (a run id from fanout runs, last, or last~N: the Nth run before the last)"),
		Short: "Continue an interrupted run: fetch only the targets without a result",
		Long: `resume continues run RUN (an id from fanout runs, last, or last~N) recorded with --db,
after Ctrl-C, a crash, a SIGKILL or a reboot. It reads the same inputs with
the same flags, skips every target that already has a result, and fetches
the rest. With -o FILE the file is first cut back to the length recorded
with the last committed results, so it ends with exactly one line per
target. Results written to stdout cannot be taken back: a resumed run
writes only the new ones there.

A run that read stdin can be resumed only by giving it the same lines again
on stdin; the input files must not have changed since the run started.

The flags that set only how fast and how patiently targets are fetched
(-c, --per-host, --rate, --host-rate, --window, --retries, --max-retry-wait,
--max-host-errors, --timeout, --connect-timeout) may be given to change them for this session,
say a lower -c after a run that ran out of memory or file descriptors; the
run's recorded command line stays as it was. What is fetched, and how the
results are written, cannot change within a run.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDB(dbName)
			if err != nil {
				return err
			}
			run, err := runArg(db, args[0])
			db.Close()
			if err != nil {
				return err
			}
			if run.State == store.StateDone {
				// The exit status is the whole run's, as after a resume
				// that finished it: a script that resumes until done
				// must not read a failed run as a success.
				fmt.Fprintf(env.Stderr, "fanout: run %d is complete: nothing to resume (%d results, %d failed)\n", run.ID, run.Results, run.Failed)
				if run.Failed > 0 {
					return exitError{ExitFailures}
				}
				return nil
			}
			if nr := run.Config.Flags["nats-run"]; nr != "" {
				return usageError{fmt.Errorf("run %d was recorded by fanout collect from NATS run %s: continue it with fanout collect --run %s --db %s",
					run.ID, nr, nr, dbName)}
			}
			f := &flags{}
			fs := pflag.NewFlagSet("resume", pflag.ContinueOnError)
			f.register(fs)
			if err := fs.Parse(run.Command); err != nil {
				return usageError{fmt.Errorf("run %d: its command line: %w", run.ID, err)}
			}
			f.rebase(run.Config.Dir)
			for _, name := range resumeOverrides {
				if o := cmd.Flags().Lookup(name); o.Changed {
					if err := fs.Set(name, o.Value.String()); err != nil {
						return usageError{fmt.Errorf("--%s: %w", name, err)}
					}
				}
			}
			f.inputs, f.output = run.Config.Inputs, run.Config.Output
			f.db, f.resumeID, f.newRun = dbName, run.ID, false
			f.quiet = f.quiet || quiet
			err = runMain(cmd.Context(), env, f, run.Config.Args)
			if errors.Is(err, errNewRun) {
				err = usageError{fmt.Errorf("%w\nto start the run again as a new one: fanout %s --db %s --new-run",
					err, output.Escape(describeCommand(run)), dbName)}
			}
			return err
		},
	}
	dbFlag(cmd.Flags(), &dbName)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar and no summary")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		err = flagError(c, err) // a pacing flag mistyped: the one meant
		// -o, -f, a header or a target: the main command's, which a
		// resume takes from the run.
		if strings.HasPrefix(err.Error(), "unknown ") {
			return fmt.Errorf("%w: resume takes --db, -q and the pacing flags (%s); what is fetched and how "+
				"the results are written are the run's own (fanout runs shows its command line), and a new run "+
				"(--new-run) changes them", err, "--"+strings.Join(resumeOverrides, ", --"))
		}
		return err
	})
	over := pflag.NewFlagSet("overrides", pflag.ContinueOnError)
	(&flags{}).register(over)
	copyFlags(cmd.Flags(), over, resumeOverrides...)
	for _, name := range resumeOverrides {
		// Unset, each is the run's own, not the main command's default.
		// "0" is what pflag takes for a zero default of every type it
		// does not know (our duration flag included; "0s" is not), so
		// help prints no second "(default ...)".
		fl := cmd.Flags().Lookup(name)
		fl.DefValue = "0"
		fl.Usage += " (default: the run's own)"
	}
	return cmd
}

// rebase makes the relative file names among a recorded command line's
// flags relative to dir, the directory the run was started in: a resume
// started elsewhere must send the run's -d @FILE body and present its
// certificates, and save bodies in its --save directory, not use files of
// the same names in its own directory.
// (Inputs and output are recorded as absolute names already.)
func (f *flags) rebase(dir string) {
	if dir == "" {
		return
	}
	abs := func(name string) string {
		if name == "" || filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(dir, name)
	}
	if name, ok := strings.CutPrefix(f.data, "@"); ok && name != "-" {
		f.data = "@" + abs(name)
	}
	f.caCert, f.cert, f.key, f.cpuProfile = abs(f.caCert), abs(f.cert), abs(f.key), abs(f.cpuProfile)
	f.save = abs(f.save) // the run's bodies in one place, not two
}

// resumeOverrides are the flags a resume may change: how fast and how
// patiently targets are fetched, never what is fetched or written.
var resumeOverrides = []string{
	"concurrency", "per-host", "rate", "host-rate", "window",
	"retries", "max-retry-wait", "max-host-errors", "timeout", "connect-timeout",
}
