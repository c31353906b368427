package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

// errNewRun ends the refusals to resume whose way out is a new run; fanout
// resume, which has no --new-run, adds the command line that starts one.
var errNewRun = errors.New("--new-run")

// recording is a run recorded with --db: the database, the run, and the
// output file whose length is checkpointed with each commit.
type recording struct {
	db     *store.DB
	runID  int64
	cfg    store.Config
	prior  *store.Progress // the checkpoint being resumed; nil for a new run
	rec    *store.Recorder
	acc    output.Accept
	out    *countingFile // nil when results go to stdout
	closed bool
}

// startRecording opens --db and picks the run: the one --resume names, or
// an unfinished run with the same inputs and output (unless --new-run), or
// a new one. Errors are usage errors: nothing has been fetched yet.
func startRecording(env Env, f *flags, args []string, acc output.Accept) (*recording, error) {
	cfg, err := recordConfig(f, args)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(f.db)
	if err != nil {
		return nil, err
	}
	rc := &recording{db: db, cfg: cfg, acc: acc}
	if err := rc.pickRun(env, f); err != nil {
		db.Close()
		return nil, err
	}
	return rc, nil
}

func (rc *recording) pickRun(env Env, f *flags) error {
	// Until the run picked is locked: another process started at the
	// same moment must see it, and must not take it over.
	unlock, err := rc.db.LockPicking(env.Interrupt)
	if err != nil {
		return err
	}
	defer unlock()
	var old *store.Run
	if f.resumeID != 0 {
		r, err := rc.db.Run(f.resumeID)
		if err != nil {
			return err
		}
		old = &r
	} else if !f.newRun {
		runs, err := rc.db.Runs()
		if err != nil {
			return err
		}
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].State != store.StateDone && sameTargets(runs[i].Config, rc.cfg) {
				if slices.Contains(runs[i].Config.Inputs, "-") {
					// Nothing says stdin gives the same lines as the
					// last time (a nightly "generate | fanout --db"
					// gives other ones), and the results would be
					// given to the wrong targets: resuming such a run
					// is asked for by name.
					if !f.quiet {
						fmt.Fprintf(env.Stderr, "fanout: run %d, unfinished, read stdin too: this is a new run (fanout resume --db %s %d continues that one, given the same lines again)\n",
							runs[i].ID, f.db, runs[i].ID)
					}
					break
				}
				if d := changedFlags(runs[i].Config.Flags, rc.cfg.Flags, f.set); len(d) > 0 {
					return fmt.Errorf("run %d, unfinished, has the same inputs and output but other %s: resuming it would make one run %s; "+
						"give its flags again to resume it (fanout resume %d does), or start a new run with %w",
						runs[i].ID, strings.Join(d, ", "), mixedBy(d), runs[i].ID, errNewRun)
				}
				old = &runs[i]
				break
			}
		}
	}
	if old == nil {
		if err := outputInUse(rc.db, rc.cfg.Output); err != nil {
			return err
		}
		if n, err := unfinishedWith(rc.db, rc.cfg.Output); err != nil {
			return err
		} else if n != 0 {
			fmt.Fprintf(env.Stderr, "fanout: warning: --output %s holds the results of run %d, which did not finish: this run rewrites it, and run %d can no longer be resumed (fanout show --db %s %d -o FILE writes them again)\n",
				rc.cfg.Output, n, n, f.db, n)
		}
		var key [16]byte
		rand.Read(key[:])
		rc.cfg.DedupeKey = hex.EncodeToString(key[:])
		id, err := rc.db.CreateRun(f.commandLine(), rc.cfg)
		if err == nil {
			err = rc.db.LockRun(id)
		}
		rc.runID = id
		return err
	}
	if err := rc.db.LockRun(old.ID); err != nil {
		if errors.Is(err, store.ErrRunInUse) {
			also := ""
			if old.Config.Output != "" {
				also = " and another -o" // the live run writes this one
			}
			return fmt.Errorf("run %d is being recorded by another fanout process right now: wait for it to end, or start a new run with %w%s", old.ID, errNewRun, also)
		}
		return err
	}
	if old.State == store.StateDone {
		return fmt.Errorf("run %d is complete: nothing to resume (fanout show %d shows it)", old.ID, old.ID)
	}
	if !sameTargets(old.Config, rc.cfg) {
		return fmt.Errorf("run %d was recorded with other inputs, --no-dedupe, --output or --format; give the same ones, or %w", old.ID, errNewRun)
	}
	if err := unchangedInputs(old.Config); err != nil {
		return fmt.Errorf("run %d cannot be resumed: %w (the targets would be numbered differently); use %w", old.ID, err, errNewRun)
	}
	if err := outputRewritten(rc.db, *old); err != nil {
		return err
	}
	p, err := rc.db.Progress(old.ID)
	if err != nil {
		return err
	}
	rc.runID, rc.prior = old.ID, p
	rc.cfg.DedupeKey = old.Config.DedupeKey
	if err := rc.db.SetState(old.ID, store.StateRunning); err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(env.Stderr, "fanout: resuming run %d in %s: %d targets already have results\n", old.ID, f.db, p.Results)
	}
	if slices.Contains(old.Config.Inputs, "-") {
		fmt.Fprintf(env.Stderr, "fanout: warning: run %d read stdin; it must give the same lines in the same order again, or results will be attributed to the wrong targets\n", old.ID)
	}
	return nil
}

// recordConfig describes the run for the runs table, with absolute file
// names so that `fanout resume` works from any directory.
func recordConfig(f *flags, args []string) (store.Config, error) {
	dir, _ := os.Getwd()
	cfg := store.Config{
		Dir: dir, Args: args, Dedupe: !f.noDedupe, Format: f.format, Ordered: f.ordered,
		Accept: f.accept, Flags: map[string]string{},
	}
	if cfg.Args == nil {
		cfg.Args = []string{}
	}
	for _, name := range f.inputs {
		if name == "-" {
			cfg.Inputs = append(cfg.Inputs, name)
			continue
		}
		abs, err := filepath.Abs(name)
		if err != nil {
			return cfg, fmt.Errorf("--input %s: %v", name, err)
		}
		cfg.Inputs = append(cfg.Inputs, abs)
		if st, err := os.Stat(abs); err == nil && st.Mode().IsRegular() {
			cfg.InputFiles = append(cfg.InputFiles, store.FileStamp{Name: abs, Size: st.Size(), ModTime: st.ModTime().UTC()})
		}
	}
	if len(f.inputs) == 0 && len(args) == 0 {
		cfg.Inputs = []string{"-"} // openInputs reads stdin
	}
	if f.output != "" && f.output != "-" {
		abs, err := filepath.Abs(f.output)
		if err != nil {
			return cfg, fmt.Errorf("--output %s: %v", f.output, err)
		}
		cfg.Output = abs
	}
	if f.set != nil {
		f.set.Visit(func(fl *pflag.Flag) { cfg.Flags[fl.Name] = fl.Value.String() })
	}
	if f.save != "" {
		// Absolute, as the inputs and the output are: "--save bodies"
		// typed in two directories is two places, and "--save /a/bodies"
		// typed in /a the same one.
		abs, err := filepath.Abs(f.save)
		if err != nil {
			return cfg, fmt.Errorf("--save %s: %v", f.save, err)
		}
		cfg.Flags["save"] = abs
	}
	return cfg, nil
}

// sameTargets reports whether two runs number their targets identically
// and write the same output: the condition for continuing one with the
// other's inputs.
func sameTargets(a, b store.Config) bool {
	return slices.Equal(a.Inputs, b.Inputs) && slices.Equal(a.Args, b.Args) &&
		a.Dedupe == b.Dedupe && a.Output == b.Output && a.Format == b.Format
}

// changedFlags returns, as "--name" in the flag set's order, the flags whose
// values differ between two runs' recorded flags (set is the command's flag
// set, whose defaults stand for a flag not given): those that decide what
// is fetched and how a result is judged. The pacing flags, which a resume
// may change (resumeOverrides), and those that change neither the requests
// nor the results (-q, --color, ...) do not count; sameTargets compares
// the inputs and the output.
func changedFlags(a, b map[string]string, set *pflag.FlagSet) []string {
	if set == nil {
		return nil
	}
	value := func(m map[string]string, fl *pflag.Flag) string {
		v, ok := m[fl.Name]
		if !ok {
			v = fl.DefValue
		}
		if fl.Name == "method" && v == "" {
			// -X's default is GET, or POST with -d (curl's rule).
			v = http.MethodGet
			if m["data"] != "" {
				v = http.MethodPost
			}
		}
		return v
	}
	var d []string
	set.VisitAll(func(fl *pflag.Flag) {
		if slices.Contains(resumeOverrides, fl.Name) || slices.Contains(sessionOnlyFlags, fl.Name) {
			return
		}
		if va, vb := value(a, fl), value(b, fl); va != vb {
			d = append(d, "--"+fl.Name)
		}
	})
	return d
}

// mixedBy says what resuming a run with the changed flags d (changedFlags)
// would mix in it: each flag is named with what it changes, so that
// --accept is not said to change the requests.
func mixedBy(d []string) string {
	named := make([][]string, len(mixes))
	// --failed and --accepted both changed: one filter swapped for the
	// other, and neither part holds every result.
	swapped := slices.Contains(d, "--failed") && slices.Contains(d, "--accepted")
	for _, name := range d {
		key := name
		if name == "--match" {
			key = "--accept" // it decides what is accepted too
		}
		if swapped && (name == "--failed" || name == "--accepted") {
			key = "--failed/--accepted"
		}
		g := 0 // -X, -H, -d, --proxy, --max-body...: how a target is fetched
		for i, m := range mixes {
			if m.flag == key {
				g = i
			}
		}
		named[g] = append(named[g], name)
	}
	var why []string
	for i, names := range named {
		if len(names) > 0 {
			why = append(why, mixes[i].what+" ("+strings.Join(names, ", ")+")")
		}
	}
	return strings.Join(why, " and ")
}

// mixes are what mixedBy says a changed flag would mix, the first for
// every flag not named.
var mixes = []struct{ flag, what string }{
	{"", "of targets fetched two ways"},
	{"--accept", "of results judged by two rules"},
	{"--ordered", "with its output in two orders"},
	{"--failed", "with its output holding every result in one part and only the failed in another"},
	{"--accepted", "with its output holding every result in one part and only the accepted in another"},
	{"--failed/--accepted", "with its output holding only the failed in one part and only the accepted in another"},
	{"--save", "with its bodies saved in two places, or some not at all"},
	{"--response-headers", "with the response headers of some results and not of others"},
}

// sessionOnlyFlags are the main command's flags that change neither what a
// run fetches, nor how its results are judged or written (--ordered is
// compared: a run's output is in one order), or that sameTargets compares
// in their resolved form (relative file names).
var sessionOnlyFlags = []string{
	"input", "output", "format", "no-dedupe", "quiet", "color", "summary-json", "cpuprofile", "db", "new-run",
}

// unchangedInputs checks that each input file still has the size and
// modification time it had when the run started.
func unchangedInputs(c store.Config) error {
	for _, s := range c.InputFiles {
		st, err := os.Stat(s.Name)
		if err != nil {
			return fmt.Errorf("--input %s: %v", s.Name, unwrapPath(err))
		}
		if st.Size() != s.Size || !st.ModTime().Equal(s.ModTime) {
			return fmt.Errorf("--input %s changed since the run started", s.Name)
		}
	}
	return nil
}

// commandLine rebuilds the flags given on the command line, in a form
// `fanout resume` can parse again (--db and --new-run left out).
func (f *flags) commandLine() []string {
	cmd := []string{}
	if f.set == nil {
		return cmd
	}
	f.set.Visit(func(fl *pflag.Flag) {
		switch fl.Name {
		case "db", "new-run":
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				cmd = append(cmd, "--"+fl.Name+"="+v)
			}
			return
		}
		cmd = append(cmd, "--"+fl.Name+"="+fl.Value.String())
	})
	return cmd
}

// outputInUse refuses a new run whose -o FILE a run of the database is
// writing right now (--new-run beside a live run of the same command): two
// processes writing one file at their own offsets would tear its lines.
func outputInUse(db *store.DB, output string) error {
	if output == "" {
		return nil
	}
	runs, err := db.Runs()
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.State == store.StateRunning && r.Config.Output == output {
			if recording, _ := db.Recording(r.ID); recording {
				return fmt.Errorf("--output %s is being written by run %d, which another fanout process records right now: give another -o, or wait for it to end", output, r.ID)
			}
		}
	}
	return nil
}

// unfinishedWith returns the newest unfinished run that wrote output, or
// 0: a new run writing there ends that run's chance of a resume, since
// its output file no longer holds its results (see outputRewritten).
func unfinishedWith(db *store.DB, output string) (int64, error) {
	if output == "" {
		return 0, nil
	}
	runs, err := db.Runs()
	if err != nil {
		return 0, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if r := runs[i]; r.State != store.StateDone && r.Config.Output == output {
			return r.ID, nil
		}
	}
	return 0, nil
}

// outputRewritten refuses to resume run old when a later run of the
// database wrote the same output file: resuming would cut that run's
// lines back to old's length, in the middle of one.
func outputRewritten(db *store.DB, old store.Run) error {
	if old.Config.Output == "" {
		return nil
	}
	runs, err := db.Runs()
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.ID > old.ID && r.Config.Output == old.Config.Output {
			return fmt.Errorf("run %d cannot be resumed: run %d has written --output %s since; resuming would cut its results back (use %w, or another -o)",
				old.ID, r.ID, old.Config.Output, errNewRun)
		}
	}
	return nil
}

// skip wraps src so that targets that already have results are not
// fetched again. The reader still reads (and dedupes) every line, so the
// targets keep their sequence numbers.
func (rc *recording) skip(src engine.Source) engine.Source {
	if rc.prior == nil {
		return src
	}
	return &skipSource{src: src, done: rc.prior}
}

type skipSource struct {
	src  engine.Source
	done *store.Progress
}

func (s *skipSource) Next() (fetch.Target, error) {
	for {
		t, err := s.src.Next()
		if err != nil || !s.done.Done(t.Seq) {
			return t, err
		}
	}
}

// openOutput opens -o FILE. Resuming, it cuts the file back to the length
// committed with the last results, so the lines written after that commit
// (whose results were not recorded and will be fetched again) go away.
func (rc *recording) openOutput(env Env) (io.Writer, func() error, error) {
	name := rc.cfg.Output
	if name == "" {
		return env.Stdout, func() error { return nil }, nil
	}
	var off int64
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if rc.prior != nil {
		off = rc.prior.Offsets[name]
		flag = os.O_WRONLY | os.O_CREATE
	}
	_, statErr := os.Stat(name)
	existed := statErr == nil
	file, err := openPipe("--output", name, flag, env.Interrupt)
	if err != nil {
		return nil, nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, fmt.Errorf("--output %s: %v", name, err)
	}
	if !st.Mode().IsRegular() {
		// /dev/null, a pipe or a terminal: nothing to cut back on resume,
		// and fsync is refused, so the file takes no part in checkpoints.
		return file, file.Close, nil
	}
	if rc.prior != nil {
		if st.Size() < off {
			what := fmt.Sprintf("is %d bytes, shorter than the %d recorded: it was changed", st.Size(), off)
			if !existed {
				what = fmt.Sprintf("is gone (%d bytes were recorded)", off)
				os.Remove(name) // the empty file OpenFile just made
			}
			err = fmt.Errorf("%s, and resuming would leave results out of it; "+
				"fanout show --db %s %d -f %s -o %s writes the recorded ones again, then resume",
				what, rc.db.Path(), rc.runID, rc.cfg.Format, name)
		} else {
			err = file.Truncate(off)
		}
		if err == nil {
			_, err = file.Seek(off, io.SeekStart)
		}
		if err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("--output %s: %v", name, err)
		}
	}
	rc.out = &countingFile{f: file, n: off}
	return rc.out, file.Close, nil
}

// countingFile counts the bytes written to the output file: its length,
// without a system call per checkpoint.
type countingFile struct {
	f *os.File
	n int64
}

func (c *countingFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.n += int64(n)
	return n, err
}

// start begins recording; the output file must be open.
func (rc *recording) start() {
	opts := store.RecorderOptions{Prior: rc.prior}
	if rc.out != nil {
		// For a reboot, not a SIGKILL: the page cache survives the death
		// of the process, but only a synced file survives a power loss,
		// and the committed offset must never point past its end.
		opts.BeforeCommit = rc.out.f.Sync
	}
	rc.rec = rc.db.Recorder(rc.runID, opts)
}

func (rc *recording) offsets() map[string]int64 {
	if rc.out == nil {
		return nil
	}
	return map[string]int64{rc.cfg.Output: rc.out.n}
}

// leftForResume reports whether r is a target a recorded run leaves for its
// resume (Ctrl-C canceled it): not written, not recorded, not summed.
func leftForResume(r *fetch.Result) bool {
	return r.Error != nil && r.Error.Kind == fetch.KindCanceled
}

// emit writes one result and queues it for the database. A target
// canceled by Ctrl-C has no result yet: it is neither written nor
// recorded, and a resume fetches it.
func (rc *recording) emit(enc output.Encoder, r *fetch.Result) error {
	if leftForResume(r) {
		return nil
	}
	if err := enc.Encode(r); err != nil {
		return err
	}
	rc.rec.Add(r, rc.acc.OK(r))
	if err := rc.rec.Err(); err != nil {
		// A target written twice (a bug): stop before a commit whose
		// offset counts the line the database refused, so that finish
		// drops the batch and a resume cuts the file back to agree.
		return err
	}
	return rc.cutIfDue(enc)
}

// cutIfDue commits a batch when one is due: the encoder is flushed first,
// so the file's length at the cut holds exactly the results in the batch
// and before.
func (rc *recording) cutIfDue(enc output.Encoder) error {
	if !rc.rec.Due() {
		return rc.rec.Err()
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	return rc.rec.Cut(rc.offsets())
}

// finish commits the last results (the encoder must be flushed), sets the
// run's state and reports the run's failures over all its sessions. When
// the output failed (commit false), the results queued since the last
// commit are dropped: their lines may not be whole in the file, and the
// file is cut back to the last commit on resume.
func (rc *recording) finish(complete, commit bool) (run store.Run, err error) {
	if rc.closed {
		return run, errors.New("recording finished twice")
	}
	rc.closed = true
	defer rc.db.Close()
	if commit {
		err = rc.rec.Close(rc.offsets())
	} else {
		err = rc.rec.Abandon()
	}
	state := store.StateInterrupted
	if complete && err == nil {
		state = store.StateDone
	}
	if serr := rc.db.SetState(rc.runID, state); err == nil {
		err = serr
	}
	run, rerr := rc.db.Run(rc.runID)
	if err == nil {
		err = rerr
	}
	return run, err
}

// resumed reports whether the run had results from earlier sessions.
// dedupeKey is the run's dedupe key (input.Options.DedupeKey): zero, a
// random one, for a run recorded before runs kept theirs.
func (rc *recording) dedupeKey() [16]byte {
	if rc == nil {
		return [16]byte{}
	}
	return dedupeKeyOf(rc.cfg.DedupeKey)
}

// dedupeKeyOf decodes a dedupe key kept in hex (a run's config, a
// submitted run's metadata): zero, a random one, when there is none.
func dedupeKeyOf(s string) (key [16]byte) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == len(key) {
		copy(key[:], b)
	}
	return key
}

func (rc *recording) resumed() bool { return rc != nil && rc.prior != nil && rc.prior.Results > 0 }

// priorReach is one past the highest target the run's earlier sessions
// have a result for: a resumed input must give at least that many targets.
func (rc *recording) priorReach() uint64 {
	if rc == nil || rc.prior == nil {
		return 0
	}
	n := rc.prior.LowWater
	for s := range rc.prior.Above {
		n = max(n, s+1)
	}
	return n
}

// remaining is the progress bar's total: the targets not yet done.
func (rc *recording) remaining(total int64) int64 {
	if rc == nil || rc.prior == nil || total < 0 {
		return total
	}
	return max(0, total-rc.prior.Results)
}

// abandon closes the database of a run that never started fetching.
func (rc *recording) abandon() {
	if !rc.closed {
		rc.closed = true
		if rc.rec != nil {
			rc.rec.Abandon()
		}
		rc.db.SetState(rc.runID, store.StateInterrupted)
		rc.db.Close()
	}
}

// dbDefault is the database the store subcommands use without --db.
func dbDefault() string {
	if v := strings.TrimSpace(os.Getenv("FANOUT_DB")); v != "" {
		return v
	}
	return "fanout.db"
}
