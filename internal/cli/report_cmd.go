package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/internal/humantime"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/report"
	"github.com/fanout/fanout/store"
)

func init() { subcommands = append(subcommands, newReportCmd) }

// newReportCmd is `fanout report`: one self-contained HTML page about a run
// recorded with --db, or about a JSONL results file.
func newReportCmd(env Env) *cobra.Command {
	var (
		out, dbName, from, accept, title string
		opts                             report.Options
	)
	cmd := &cobra.Command{
		Use:   "report [RUN] -o FILE [flags]",
		Short: "Write an HTML report about a recorded run (--db) or a results file (--from)",
		Long: `report writes one self-contained HTML file about a run: headline numbers,
status classes and error kinds, a latency histogram with percentiles, the
slowest targets with a timing waterfall (dns, connect, tls, ttfb, transfer),
errors grouped by kind and host, and per-host statistics.

The page works offline: styles and SVG charts are inline and it loads
nothing. Results are read once with bounded memory, so a run of millions of
results gives a page of the same small size.

RUN is a run id from 'fanout runs', last, or last~N (the Nth run before the
last); with --from FILE the results are read from a JSONL file written by
'fanout -f jsonl' instead ("-" reads stdin).`,
		Example: `  fanout report last -o report.html
  fanout report 3 --db runs.db -o run3.html
  fanout -i urls.txt -f jsonl -o out.jsonl; fanout report --from out.jsonl -o report.html`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{errors.New("-o: name the HTML file to write (- for stdout)")}
			}
			start := time.Now()
			var (
				rep *report.Report
				err error
			)
			kept := dbFiles(dbName)
			if from != "" {
				kept = []keptFile{{"the --from file " + from, from}}
			}
			if err := checkOutput(out, kept...); err != nil {
				return usageError{err}
			}
			switch {
			case from != "" && len(args) > 0:
				return usageError{fmt.Errorf("--from %s: give a results file or a RUN, not both", from)}
			case from != "":
				rep, err = reportFromFile(env, from, accept, opts)
			default:
				if cmd.Flags().Changed("accept") {
					return usageError{errors.New("--accept: a recorded run is judged with the rule it ran with")}
				}
				run := "last"
				if len(args) > 0 {
					run = args[0]
				}
				rep, err = reportFromDB(dbName, run, opts)
			}
			if err != nil && !errors.As(err, new(usageError)) && !errors.As(err, new(exitError)) {
				// A run that cannot be read (a row edited by hand, a --from
				// line that is not a result): the report could not be
				// made, as fanout show could not; not a usage error.
				fmt.Fprintf(env.Stderr, "fanout: report: %v\n", err)
				return exitError{ExitIncomplete}
			}
			if err != nil {
				return err
			}
			if title != "" {
				rep.Info.Title = title
			}
			size, err := writeReport(env, out, rep)
			if err != nil {
				if errors.As(err, new(usageError)) || errors.As(err, new(exitError)) {
					return err
				}
				// The page could not be written (a full disk): not a
				// usage error.
				fmt.Fprintf(env.Stderr, "fanout: report: %v\n", err)
				return exitError{ExitIncomplete}
			}
			if out != "-" {
				fmt.Fprintf(env.Stderr, "report: %s results -> %s (%d KB) in %s\n",
					strconv.FormatInt(rep.Total, 10), out, (size+1023)/1024, humantime.Duration(time.Since(start)))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVarP(&out, "output", "o", "", "write the report to `FILE` (- for stdout)")
	dbFlag(fs, &dbName)
	fs.StringVar(&from, "from", "", "read results from a JSONL `FILE` instead of a database (- for stdin)")
	fs.StringVar(&accept, "accept", "200..=399", "with --from: statuses that count as success, in lychee's syntax")
	fs.StringVar(&title, "title", "", "heading of the page (default: the run id or the file name)")
	fs.IntVar(&opts.TopN, "top", report.DefaultTopN, "how many of the slowest targets to list")
	fs.IntVar(&opts.TopHosts, "hosts", report.DefaultTopHosts, "how many hosts to list")
	fs.IntVar(&opts.MaxHosts, "max-hosts", report.DefaultMaxHosts, "distinct hosts counted one by one; later hosts are summed as other hosts")
	return cmd
}

func reportFromFile(env Env, name, accept string, opts report.Options) (*report.Report, error) {
	a, err := output.ParseAccept(accept)
	if err != nil {
		return nil, usageError{err}
	}
	opts.Accept = a
	var r io.Reader = env.Stdin
	if name != "-" {
		f, err := openPipe("--from", name, os.O_RDONLY, env.Interrupt)
		if err != nil {
			return nil, openError(env, err)
		}
		defer f.Close()
		r = f
	}
	cutLine := 0
	rep, err := report.Build(report.RunInfo{Source: name}, report.ReadJSONLCut(r, func(n int) { cutLine = n }), opts)
	if errors.Is(err, report.ErrNotJSONL) {
		// Another of fanout's outputs (-f csv or text), most likely: a
		// wrong file named, not a results file broken.
		what := name
		if name == "-" {
			what = "stdin"
		}
		return nil, usageError{fmt.Errorf("--from %s: %s is not a JSON Lines results file (its first line is not a JSON object): write one with fanout -f jsonl", name, what)}
	}
	if err != nil {
		return nil, fmt.Errorf("--from %s: %w", name, err)
	}
	if cutLine > 0 {
		fmt.Fprintf(env.Stderr, "fanout: warning: --from %s: its last line (%d) is cut short, as when a run is killed midway: left out\n", name, cutLine)
	}
	return rep, nil
}

func reportFromDB(name, run string, opts report.Options) (*report.Report, error) {
	db, err := openDB(name)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	r, err := runArg(db, run)
	if err != nil {
		return nil, err
	}
	id := r.ID
	if r.Config.Accept != "" {
		a, err := output.ParseAccept(r.Config.Accept)
		if err != nil {
			return nil, fmt.Errorf("run %d: stored --accept: %w", id, err)
		}
		opts.Accept = a
	}
	info := report.RunInfo{
		ID:      strconv.FormatInt(r.ID, 10),
		Source:  name,
		Args:    append([]string{"fanout"}, shownCommand(r.Command)...),
		Started: r.StartedAt, Finished: r.FinishedAt,
	}
	if state := shownState(db, r); state != "" && state != store.StateDone {
		info.Title = fmt.Sprintf("fanout run %d (%s)", r.ID, state)
	}
	opts.Detail = func(seqs []uint64) ([]*fetch.Result, error) { return db.ResultsAt(id, seqs) }
	rep, err := report.Build(info, db.Lean(id), opts)
	if err != nil {
		return nil, err // the store's errors name the database and the run
	}
	return rep, nil
}

// writeReport writes the page to a temporary file next to name and renames
// it into place, so a failed write never leaves half a report behind. A
// name that is not a regular file (/dev/stdout, /dev/null, a pipe) is
// written in place: a rename would replace the device or the link itself
// with the page (as root, -o /dev/null would leave an HTML file there).
// A symbolic link to a file is followed: the rename replaces the file it
// points to, not the link.
func writeReport(env Env, name string, rep *report.Report) (int64, error) {
	if name == "-" {
		return 0, rep.WriteHTML(env.Stdout)
	}
	if st, err := os.Stat(name); err == nil && !st.Mode().IsRegular() {
		f, err := openPipe("-o", name, os.O_WRONLY, env.Interrupt)
		if err != nil {
			return 0, openError(env, err)
		}
		cw := &countingWriter{w: f}
		err = rep.WriteHTML(cw)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("-o %s: %w", name, err)
		}
		return cw.n, nil
	}
	if target, err := filepath.EvalSymlinks(name); err == nil {
		name = target
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".fanout-report-*.html")
	if err != nil {
		return 0, usageError{fmt.Errorf("-o %s: %v", name, unwrapPath(err))}
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return 0, fmt.Errorf("-o %s: %w", name, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		return 0, fmt.Errorf("-o %s: %w", name, err)
	}
	return st.Size(), nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
