package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fanout/fanout/internal/humantime"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

func newDiffCmd(env Env) *cobra.Command {
	var dbName, format string
	var minSlower time.Duration
	opt := store.DefaultDiffOptions()
	pct := opt.SlowerRatio * 100
	cmd := &cobra.Command{
		Use:   "diff [flags] RUN_A RUN_B",
		Short: "Compare two recorded runs; exit 1 when something got worse",
		Long: `diff compares two runs target by target and lists:
  failing    accepted in RUN_A, not accepted in RUN_B            (worse)
  recovered  not accepted in RUN_A, accepted in RUN_B
  status     status or error kind changed, acceptance did not  (worse when the
             class got worse: below 400 < 4xx < 5xx < no response)
  slower     no error in either, and RUN_B's total time exceeds RUN_A's by more
             than --slower percent and by more than --min-slower     (worse;
             never with --no-slower)
  content    with --content: accepted in both with the same status, and the
             body (body_sha256) or the title changed         (never worse)
Targets are matched as input dedupe tells them apart (the normalised URL:
order, case of scheme and host, a #fragment and a default port do not
matter; a bare host is not its https:// URL), lines that are not valid
targets by their text; a target a run holds twice (--no-dedupe) counts with
its first occurrence. A change names RUN_B's input line.
RUN_A and RUN_B are run ids from fanout runs, last, or last~N for the Nth run
before the last: "fanout diff last~1 last" compares the last two runs.
Changes are listed in RUN_B's input order. Targets found in only one run,
and content changes, are counted in the summary on stderr. Each run's
results are judged by its own --accept: a note says when they differ.

Exit status: 0 nothing got worse, 1 something got worse, 2 usage error or
runs without a target in common (almost surely the wrong run).`,
		Args: wantArgs("RUN_A", "RUN_B"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := textOrJSONL(format)
			if err != nil {
				return usageError{err}
			}
			format = f
			// Name the flag that is wrong and the value given: an error
			// naming both flags leaves the user to guess which one it is.
			if pct < 0 || math.IsNaN(pct) || math.IsInf(pct, 0) {
				return usageError{fmt.Errorf("--slower must be a percentage not below 0, got %v", pct)}
			}
			if minSlower < 0 {
				return usageError{fmt.Errorf("--min-slower must not be negative, got %v", minSlower)}
			}
			if opt.NoSlower && (cmd.Flags().Changed("slower") || cmd.Flags().Changed("min-slower")) {
				return usageError{fmt.Errorf("--no-slower leaves times out, and --slower or --min-slower sets when they count: give one or the other")}
			}
			opt.SlowerRatio, opt.SlowerMinMs = pct/100, float64(minSlower)/float64(time.Millisecond)
			db, err := openDB(dbName)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := runArg(db, args[0])
			if err != nil {
				return err
			}
			b, err := runArg(db, args[1])
			if err != nil {
				return err
			}
			w := bufio.NewWriter(env.Stdout)
			write := diffText(w)
			if format == "jsonl" {
				enc := json.NewEncoder(w)
				enc.SetEscapeHTML(false)
				write = func(c store.Change) error { return enc.Encode(c) }
			}
			// A reader that closed stdout (fanout diff 1 2 | head) gets no
			// more lines, but the diff goes on to its summary and exit
			// status, which is what CI reads.
			readerGone := false
			emit := func(c store.Change) error {
				if readerGone {
					return nil
				}
				err := write(c)
				if closedPipe(err) {
					readerGone, err = true, nil
				}
				return err
			}
			st, err := db.Diff(a.ID, b.ID, opt, emit)
			if ferr := w.Flush(); err == nil && !readerGone && !closedPipe(ferr) {
				err = ferr
			}
			if err != nil {
				fmt.Fprintf(env.Stderr, "fanout: diff: %v\n", err)
				return exitError{ExitIncomplete}
			}
			content := counted(st.Content, "content change", "content changes")
			if st.Content > 0 && !opt.Content {
				content += " (--content lists them)"
			}
			fmt.Fprintf(env.Stderr, "run %d -> run %d: %s compared: %d worse, %d recovered, %s, %s; %d only in run %d, %d only in run %d\n",
				a.ID, b.ID, counted(st.Compared, "target", "targets"), st.Worse, st.Better, counted(st.Changed, "other change", "other changes"),
				content, st.OnlyA, a.ID, st.OnlyB, b.ID)
			if otherAccept(a.Config.Accept, b.Config.Accept) {
				// Each run's results were judged with its own rule when
				// recorded: a "failing 204 -> 204" says nothing without it.
				fmt.Fprintf(env.Stderr, "fanout: diff: run %d accepted %s, run %d %s: the same status can be accepted in one and failing in the other\n",
					a.ID, a.Config.Accept, b.ID, b.Config.Accept)
			}
			cmp := []store.Run{a, b}
			if a.ID == b.ID {
				cmp = cmp[:1]
			}
			for _, r := range cmp {
				// A run cut short compares only what it fetched: the rest
				// is "only in" the other run, and nothing there is worse.
				if state := shownState(db, r); state != store.StateDone {
					fmt.Fprintf(env.Stderr, "fanout: diff: run %d is %s, not done: targets it has not fetched count only as in the other run, never as worse\n", r.ID, state)
				}
			}
			if st.Compared == 0 && st.OnlyA+st.OnlyB > 0 {
				// Almost surely the wrong run: a CI check must not pass on it.
				return usageError{fmt.Errorf("runs %d and %d have no target in common: diff compares two runs of the same list", a.ID, b.ID)}
			}
			if st.Worse > 0 {
				return exitError{ExitFailures}
			}
			return nil
		},
	}
	dbFlag(cmd.Flags(), &dbName)
	cmd.Flags().StringVarP(&format, "format", "f", "text", "text or jsonl")
	cmd.Flags().BoolVar(&opt.Content, "content", false, "also list the targets whose body or title changed (counted either way; never worse, so the exit status ignores them)")
	cmd.Flags().Float64Var(&pct, "slower", pct, "percent by which a target's time must grow to count as slower")
	durationVar(cmd.Flags(), &minSlower, "min-slower", 100*time.Millisecond, "the least absolute growth that counts as slower, together with --slower")
	cmd.Flags().BoolVar(&opt.NoSlower, "no-slower", false, "leave times out: no target is slower, so a latency blip does not fail a CI gate")
	return cmd
}

// counted is "1 target" or "n targets".
func counted(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// otherAccept reports whether two runs' --accept rules, as recorded,
// accept other statuses (200..300 is 200..=299). A rule that does not
// parse (a run recorded before the rule was) is not compared.
func otherAccept(a, b string) bool {
	ra, err := output.ParseAccept(a)
	if err != nil {
		return false
	}
	rb, err := output.ParseAccept(b)
	if err != nil {
		return false
	}
	for code := 100; code <= 999; code++ {
		if ra.Status(code) != rb.Status(code) {
			return true
		}
	}
	return false
}

// diffText writes one line per change: worse/better mark, kind, A -> B,
// the input (escaped: it may hold anything).
func diffText(w io.Writer) func(store.Change) error {
	return func(c store.Change) error {
		mark := ""
		switch {
		case c.Worse:
			mark = "worse"
		case c.Kind == store.ChangeRecovered:
			mark = "better"
		}
		detail := sideText(c.A) + " -> " + sideText(c.B)
		switch c.Kind {
		case store.ChangeContent:
			detail = shortSHA(c.A.BodySHA256) + " -> " + shortSHA(c.B.BodySHA256)
			if c.A.BodySHA256 == c.B.BodySHA256 {
				detail = "title" // the same body, read with another charset
			}
		case store.ChangeSlower:
			detail = msText(c.A.TotalMs) + " -> " + msText(c.B.TotalMs)
			if c.A.TotalMs > 0 {
				detail += fmt.Sprintf(" (+%.0f%%)", (c.B.TotalMs/c.A.TotalMs-1)*100)
			}
		}
		_, err := fmt.Fprintf(w, "%-6s  %-9s  %-24s  %s\n", mark, c.Kind, detail, output.Escape(c.Input))
		return err
	}
}

// shortSHA is the first 8 hex digits of a body's hash, as git shortens
// its own, or "-" for no body.
func shortSHA(h string) string {
	if h == "" {
		return "-"
	}
	return h[:min(len(h), 8)]
}

func sideText(s store.Side) string {
	var parts []string
	if s.Status > 0 {
		parts = append(parts, strconv.Itoa(s.Status))
	}
	if s.ErrorKind != "" {
		parts = append(parts, s.ErrorKind)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func msText(ms float64) string {
	return humantime.Millis(ms)
}
