package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanout/fanout/engine"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

// flushEvery bounds how long a finished result may sit in the output
// buffer, so tail -f and pipes see progress on slow runs.
const flushEvery = 200 * time.Millisecond

// runMain is the main job: fetch every target and report.
func runMain(ctx context.Context, env Env, f *flags, args []string) error {
	cfg, acc, errs := f.config()
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	kept := dbFiles(f.db)
	for _, name := range f.inputs {
		kept = append(kept, keptFile{"the -i file " + name, name})
	}
	if err := checkOutput(f.output, kept...); err != nil {
		return usageError{err}
	}
	in, err := openInputs(env, f.inputs, args)
	if err != nil {
		return openError(env, err)
	}
	defer in.close()
	if warn := fitFileLimit(&cfg); warn != "" {
		fmt.Fprintf(env.Stderr, "fanout: warning: %s\n", warn)
	}
	var rc *recording // with --db: the run in the database
	if f.db != "" {
		if rc, err = startRecording(env, f, args, acc); err != nil {
			if errors.Is(err, store.ErrStopped) {
				fmt.Fprintf(env.Stderr, "fanout: %v\n", err)
				return exitError{ExitInterrupted}
			}
			return usageError{err}
		}
		defer rc.abandon()
	}
	var out io.Writer
	var closeOut func() error
	if rc != nil {
		out, closeOut, err = rc.openOutput(env)
	} else {
		out, closeOut, err = openOutput(env, f.output)
	}
	if err != nil {
		return openError(env, err)
	}
	rawOut := out        // the file or pipe itself, under what wraps it below
	stderr := env.Stderr // for what is said while results are written
	if sameStream(out, env.Stderr) {
		out, stderr = lockedPair(out, env.Stderr)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		closeOut()
		return usageError{flagErrors(err)}
	}
	defer eng.Close()
	var prog *output.Progress
	if !f.quiet && isTerminal(env.Stderr) && !dumbTerminal() {
		prog = output.NewProgress(env.Stderr, rc.remaining(in.total()))
		prog.Judge(acc)
		defer prog.Stop()
		if f.output == "" && isTerminal(env.Stdout) {
			// Results to the same terminal go above the bar, not under it.
			out = prog.Bypass(out)
		}
	}
	color := useColor(f.color, f.output, env.Stdout)
	// A resumed run continues its -o file after the lines already
	// committed, which begin with the csv header.
	appending := rc != nil && rc.out != nil && rc.out.n > 0
	enc, err := output.NewEncoder(f.format, out, output.EncoderOptions{Color: color, Accept: acc, Appending: appending})
	if err != nil {
		closeOut()
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if f.failed || f.accepted {
		enc = verdictOnly{enc, acc, f}
	}
	src := &countingSource{r: input.NewReader(input.Options{Dedupe: !f.noDedupe, DedupeKey: rc.dedupeKey()}, in.srcs...), prog: prog}
	var source engine.Source = src
	if rc != nil {
		source = rc.skip(src)
		rc.start()
	}
	sum := output.NewSummary(acc)

	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return usageError{err}
		}
		defer stop()
	}
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	start := time.Now()
	gone, stopWatch := watchReader(rawOut)
	w := &writer{enc: enc, rec: rc, gone: gone}
	if f.ordered {
		var done func(uint64) bool
		if rc != nil && rc.prior != nil {
			done = rc.prior.Done // a resume does not fetch what already has results
		}
		w.reorder = output.NewReorderSkipping(w.emit, done)
		w.gate = newOrderGate(source, cfg.Limits, runCtx.Done())
		w.gate.advance(w.reorder.Next())
		source = w.gate
	}
	run := eng.Start(runCtx, source)
	if prog != nil {
		prog.Waiting(func() int64 { return run.Stats().Waiting })
	}
	var notice io.Writer // where the first Ctrl-C is acknowledged; nil with -q
	if !f.quiet {
		notice = stderr
		if prog != nil {
			notice = prog.Bypass(stderr)
		}
	}
	var unfetched int64 // with --db: canceled targets, neither written nor recorded
	var lastSeq uint64  // the highest Seq with a result, when any has
	var anyResult bool
	interrupted := consume(run, env.Interrupt, notice, env.Again, abort, w, func(r *fetch.Result) {
		if !anyResult || r.Seq > lastSeq {
			lastSeq, anyResult = r.Seq, true
		}
		if rc != nil && leftForResume(r) {
			// Not a result (see recording.emit): the summary counts what
			// the output holds, and says below what a resume fetches.
			unfetched++
			if prog != nil {
				prog.Add(r)
			}
			return
		}
		sum.Add(r)
		if prog != nil {
			prog.Add(r)
		}
	})
	wall := time.Since(start)
	stopWatch()
	// A run the context ended before it read a target gives the
	// context's error as its own: here that is an interrupt (a second
	// Ctrl-C, or one before the run began: exit 130), not an input that
	// failed to read (exit 3).
	srcErr := run.Err()
	if cerr := runCtx.Err(); cerr != nil && errors.Is(srcErr, cerr) {
		srcErr = nil
	}
	if w.reorder != nil && w.reorder.Pending() > 0 && w.err == nil && !interrupted && ctx.Err() == nil && srcErr == nil {
		// Every target had a result, yet some wait for an earlier one:
		// they were never written. Say so rather than call the run done.
		w.err = fmt.Errorf("--ordered: %d results still wait for result %d, which never came", w.reorder.Pending(), w.reorder.Next())
	}
	if w.err == nil || errors.As(w.err, new(errSave)) {
		// After a body that could not be saved the output is intact:
		// what it was given is written and, with --db, committed.
		if ferr := enc.Flush(); ferr != nil {
			w.err = ferr
		}
	}
	intact := w.err == nil || errors.As(w.err, new(errSave))
	failed := sum.Failed()
	var whole store.Run  // the recorded run, over every session
	var shortInput error // a resume's input ended before targets the run has results for
	if rc != nil {
		// Before closing the output: the last commit syncs it.
		complete := !interrupted && ctx.Err() == nil && w.err == nil && srcErr == nil
		if reach := rc.priorReach(); complete && src.read.Load() < reach {
			// Not the input the run read (stdin, given again shorter or
			// not at all): the targets past its end are not done.
			shortInput = fmt.Errorf("the input gave %d targets this time, but run %d has a result for its target number %d: "+
				"it is not the input the run read (stdin must give the same lines again); the run stays unfinished",
				src.read.Load(), rc.runID, reach)
			complete = false
		}
		var err error
		if whole, err = rc.finish(complete, intact); err != nil {
			whole.Results = -1 // not known
		}
		if w.err == nil {
			w.err = err
		}
		failed = whole.Failed // over every session of a resumed run
	}
	if cerr := closeOut(); w.err == nil {
		w.err = cerr
	}
	if prog != nil {
		prog.Stop()
	}
	sum.SetDuplicates(src.dups.Load())
	if src.read.Load() == 0 && w.err == nil && srcErr == nil && !interrupted && ctx.Err() == nil {
		// Also under -q: a CI step whose list came out empty (a generator
		// that failed, a wrong path in a glob) would otherwise pass as a
		// clean run of nothing.
		fmt.Fprintf(env.Stderr, "fanout: warning: no targets in the input: it was empty, or every line was blank or a comment\n")
	}
	sj := sum.JSON(wall)
	sj.Complete = !interrupted && ctx.Err() == nil && w.err == nil && srcErr == nil && shortInput == nil
	sj.NotFetched = unfetched
	if rc.resumed() && whole.Results >= 0 {
		sj.WholeRun = &output.WholeRunJSON{Results: whole.Results, Accepted: whole.Results - whole.Failed, Failed: whole.Failed}
	}
	if !f.quiet {
		sum.Write(env.Stderr, wall)
		if rc.resumed() && whole.Results >= 0 {
			// The lines above count this session; the exit status, the
			// whole run.
			fmt.Fprintf(env.Stderr, "%-13s %d results (this session and earlier ones), %d accepted, %d failed\n",
				"whole run", whole.Results, whole.Results-whole.Failed, whole.Failed)
		}
		if unfetched > 0 {
			fmt.Fprintf(env.Stderr, "%-13s %d targets (interrupted): fanout resume --db %s %d fetches them\n",
				"not fetched", unfetched, f.db, rc.runID)
		}
		if n := sj.Errors[string(fetch.KindCanceled)]; rc == nil && n > 0 {
			// Read, and so not in what "not read" names below: their
			// lines are the ones to fetch again besides the rest. After
			// the output failed their results were not written: there
			// is no "canceled" record to look for.
			why := "(interrupted): their results have error kind canceled"
			if w.err != nil {
				why = "when writing results failed, and their results were not written"
			}
			fmt.Fprintf(env.Stderr, "%-13s %d targets read were canceled %s; fetch them again\n", "not fetched", n, why)
		}
		if rc == nil && (interrupted || ctx.Err() != nil) && anyResult && !src.eof.Load() {
			// Without --db nothing can resume the run: say where the
			// input stopped, so the rest can be fetched on its own.
			if at, ok := src.readThrough(lastSeq); ok {
				fmt.Fprintf(env.Stderr, "%-13s %s (interrupted; with --db, fanout resume finishes a run)\n", "not read", notRead(at, in.srcs))
			}
		}
		if rc != nil {
			fmt.Fprintf(env.Stderr, "recorded as run %d in %s\n", rc.runID, f.db)
		}
	}

	jsonErr := writeSummaryJSON(f.summaryJSON, sj)
	if jsonErr != nil {
		fmt.Fprintf(env.Stderr, "fanout: %v\n", jsonErr)
	}

	switch {
	case w.err != nil && closedPipe(w.err):
		fmt.Fprintf(env.Stderr, "fanout: %s, so the run stopped there\n", closedPipeSaid(f.output))
		return exitError{ExitIncomplete}
	case errors.As(w.err, new(errSave)):
		how := "run it again"
		if rc != nil {
			how = fmt.Sprintf("fanout resume --db %s %d", f.db, rc.runID)
		}
		fmt.Fprintf(env.Stderr, "fanout: %v; the run stopped there (once it can write there again: %s)\n", w.err, how)
		return exitError{ExitIncomplete}
	case w.err != nil:
		fmt.Fprintf(env.Stderr, "fanout: writing results: %v\n", w.err)
		return exitError{ExitIncomplete}
	case srcErr != nil:
		fmt.Fprintf(env.Stderr, "fanout: reading targets: %v\n", srcErr)
		return exitError{ExitIncomplete}
	case shortInput != nil:
		fmt.Fprintf(env.Stderr, "fanout: %v\n", shortInput)
		return exitError{ExitIncomplete}
	case interrupted || ctx.Err() != nil:
		return exitError{ExitInterrupted}
	case jsonErr != nil:
		return exitError{ExitIncomplete}
	case failed > 0:
		return exitError{ExitFailures}
	}
	return nil
}

// startCPUProfile profiles the run into name until the returned stop.
func startCPUProfile(name string) (func(), error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile %s: %v", name, unwrapPath(err))
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %v", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// errSave stops a run whose body could not be saved under --save (its
// result's Error.Save); it is the result's message.
type errSave struct{ msg string }

func (e errSave) Error() string { return e.msg }

// writer sends results to the encoder, through the reorder buffer when
// output must follow input order, and to the database with --db; it
// remembers the first write error.
type writer struct {
	enc     output.Encoder
	reorder *output.Reorder
	rec     *recording   // nil without --db
	gate    *orderGate   // with reorder: holds the reading back
	gone    <-chan error // the output's reader has gone (see watchReader); nil if not watched
	err     error
}

// verdictOnly is the encoder of --failed and --accepted: it writes only
// the results skipsVerdict keeps, as show --failed and show --accepted do
// from the ok column. What is not written still counts everywhere else
// (summary, --db, exit status).
type verdictOnly struct {
	output.Encoder
	acc output.Accept
	f   *flags
}

func (e verdictOnly) Encode(r *fetch.Result) error {
	if e.f.skipsVerdict(e.acc.OK(r)) {
		return nil
	}
	return e.Encoder.Encode(r)
}

// skipsVerdict reports whether --failed or --accepted keeps a result whose
// verdict is ok out of the output.
func (f *flags) skipsVerdict(ok bool) bool {
	return f.failed && ok || f.accepted && !ok
}

// checkVerdictFlags refuses --failed with --accepted, for the run, collect
// and show alike.
func checkVerdictFlags(failed, accepted bool) error {
	if failed && accepted {
		return errors.New("--failed and --accepted: give one (--failed writes only the results not accepted, --accepted only those accepted; neither writes all)")
	}
	return nil
}

// emit writes one result in output order.
func (w *writer) emit(r *fetch.Result) error {
	if w.rec != nil {
		return w.rec.emit(w.enc, r)
	}
	return w.enc.Encode(r)
}

// flush writes buffered results; with --db it also commits a batch when
// one is due (by age on a slow run).
func (w *writer) flush() error {
	if w.rec != nil {
		if err := w.rec.cutIfDue(w.enc); err != nil {
			return err
		}
	}
	return w.enc.Flush()
}

func (w *writer) write(r *fetch.Result) {
	if w.err != nil {
		return
	}
	if r.Error != nil && r.Error.Save {
		// A body asked for and not kept is a result lost, as when -o
		// cannot be written: stop, and leave the target to a resume
		// (neither written nor recorded) rather than fetch on into a
		// full disk.
		w.err = errSave{r.Error.Message}
		return
	}
	if w.reorder != nil {
		w.err = w.reorder.Push(r)
		w.gate.advance(w.reorder.Next())
	} else {
		w.err = w.emit(r)
	}
}

// consume reads every result of run, writing each and passing it to seen.
// The first interrupt drains the run (and says so on notice, unless nil,
// with how to abort: again, or Ctrl-C if nil); a write error aborts it,
// since nothing more can be recorded. It reports whether an interrupt came.
func consume(run *engine.Run, interrupt <-chan struct{}, notice io.Writer, again func() string, abort func(), w *writer, seen func(*fetch.Result)) bool {
	// The interrupt is watched by the loop and, apart from it, by a
	// goroutine: the loop may be blocked in a write to an output nobody
	// reads (a paused pager, a stalled pipe), and the run must still start
	// nothing new, and say so, at once. Whichever sees it first drains.
	var interrupted atomic.Bool
	var once sync.Once
	onInterrupt := func() {
		once.Do(func() {
			interrupted.Store(true)
			run.Drain()
			if notice != nil {
				// Else the run seems to carry on regardless.
				how := "Ctrl-C"
				if again != nil {
					how = again()
				}
				fmt.Fprintf(notice, "fanout: interrupted: finishing the requests in flight, the rest canceled (%s again to stop at once)\n", how)
			}
		})
	}
	stop, watched := make(chan struct{}), make(chan struct{})
	go func(interrupt <-chan struct{}) { // its own copy: the loop sets its nil
		defer close(watched)
		select {
		case <-interrupt:
			onInterrupt()
		case <-stop:
		}
	}(interrupt)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	results := run.Results()
	gone := w.gone
	for {
		select {
		case r, ok := <-results:
			if !ok {
				close(stop)
				<-watched
				return interrupted.Load()
			}
			seen(&r)
			failed := w.err != nil
			w.write(&r)
			if !failed && w.err != nil {
				abort()
			}
		case <-interrupt:
			interrupt = nil
			onInterrupt()
		case err := <-gone:
			// As if the next write had failed, which may be minutes away.
			gone = nil
			if w.err == nil {
				w.err = fmt.Errorf("write output: %w", err)
				abort()
			}
		case <-tick.C:
			if w.err == nil {
				if w.err = w.flush(); w.err != nil {
					abort()
				}
			}
		}
	}
}

// countingSource publishes the reader's duplicate count for the summary;
// the reader itself is owned by the engine's reading goroutine.
type countingSource struct {
	r    *input.Reader
	dups atomic.Uint64
	read atomic.Uint64    // targets read, duplicates apart
	prog *output.Progress // nil without a progress bar
	eof  atomic.Bool      // the input was read to its end

	mu         sync.Mutex
	last, prev readAt // the last two targets read (see readThrough)
}

// readAt is where a target was read: its Seq, source (its index in the
// Reader's) and line.
type readAt struct {
	seq  uint64
	src  int
	line int
}

// readThrough returns where the target numbered seq, the last with a
// result, was read, if it was one of the last two read. The engine
// abandons at most one: a target a blocked Next returned after the run
// ended, which got no result, so the last read is the last with a
// result, or the one before it.
func (s *countingSource) readThrough(seq uint64) (readAt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range [...]readAt{s.last, s.prev} {
		if at.line > 0 && at.seq == seq {
			return at, true
		}
	}
	return readAt{}, false
}

// writeSummaryJSON writes j as JSON to the file name (--summary-json), if
// one is given.
func writeSummaryJSON(name string, j output.SummaryJSON) error {
	if name == "" {
		return nil
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err == nil {
		err = os.WriteFile(name, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("--summary-json %s: %v", name, unwrapPath(err))
	}
	return nil
}

// notRead says what of srcs was not read after at: the rest of its
// source, and the sources after it.
func notRead(at readAt, srcs []input.Source) string {
	msg := fmt.Sprintf("the input after line %d of %s", at.line, srcs[at.src].Name)
	for _, s := range srcs[at.src+1:] {
		msg += ", and " + s.Name
	}
	return msg
}

func (s *countingSource) Next() (fetch.Target, error) {
	t, err := s.r.Next()
	if err == nil {
		s.read.Add(1)
		src, line := s.r.Position()
		s.mu.Lock()
		s.prev, s.last = s.last, readAt{t.Seq, src, line}
		s.mu.Unlock()
	} else if errors.Is(err, io.EOF) {
		s.eof.Store(true)
	}
	d := s.r.Duplicates()
	if old := s.dups.Swap(d); d > old && s.prog != nil {
		// The bar's total counts every line: the duplicates, which get
		// no result, leave it as they are dropped, so that the bar ends
		// where the summary's count of results does.
		s.prog.Skip(int64(d - old))
	}
	return t, err
}

// inputs are the opened target sources.
type inputs struct {
	srcs  []input.Source
	files []*os.File
	// countable is true when every source can be read twice (arguments and
	// regular files), so the progress bar can show a total.
	countable bool
	args      []string
}

func (in *inputs) close() {
	for _, f := range in.files {
		f.Close()
	}
}

// total counts the targets for the progress bar, or returns -1 when the
// input is a stream that cannot be read twice.
func (in *inputs) total() int64 {
	if !in.countable {
		return -1
	}
	n := int64(len(in.args))
	for _, f := range in.files {
		g, err := os.Open(f.Name())
		if err != nil {
			return -1
		}
		c, err := input.Count(g)
		g.Close()
		if err != nil {
			return -1
		}
		n += c
	}
	return n
}

// openInputs opens the targets' sources in order: arguments, then each -i
// file, then stdin when nothing else was given and it is not a terminal.
func openInputs(env Env, names, args []string) (*inputs, error) {
	in := &inputs{countable: true, args: args}
	if len(args) > 0 {
		in.srcs = append(in.srcs, input.Args(args))
	}
	stdinUsed := false
	for _, name := range names {
		if name == "-" {
			if stdinUsed {
				continue
			}
			stdinUsed = true
			if err := stdinDir(env, "--input -: stdin"); err != nil {
				in.close()
				return nil, err
			}
			in.countable = false
			in.srcs = append(in.srcs, input.Source{Name: "stdin", R: env.Stdin})
			continue
		}
		f, err := openPipe("--input", name, os.O_RDONLY, env.Interrupt)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil && st.IsDir() {
				err = errors.New("is a directory")
			}
			if err == nil && !st.Mode().IsRegular() {
				in.countable = false
			}
			if err != nil {
				f.Close()
				err = fmt.Errorf("--input %s: %v", name, err)
			}
		}
		if err != nil {
			in.close()
			return nil, err
		}
		in.files = append(in.files, f)
		in.srcs = append(in.srcs, input.Source{Name: name, R: f})
	}
	if len(in.srcs) == 0 {
		if env.Stdin == nil || isTerminal(env.Stdin) {
			return nil, errors.New("no targets: give URLs as arguments, -i FILE, or pipe them on stdin")
		}
		if err := stdinDir(env, "stdin"); err != nil {
			return nil, err
		}
		in.countable = false
		in.srcs = append(in.srcs, input.Source{Name: "stdin", R: env.Stdin})
	}
	return in, nil
}

// stdinDir refuses a directory on stdin (`fanout < dir`), as -i refuses
// one, before anything is fetched: its read fails at once, and the run
// ended with "line 0: read /dev/stdin: is a directory" after its summary.
func stdinDir(env Env, what string) error {
	f, ok := env.Stdin.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory: give URLs as arguments, -i FILE, or pipe them on stdin", what)
	}
	return nil
}

// errInputStopped and errOutputStopped are openPipe's errors when a Ctrl-C
// ended its wait for a named pipe's writer or reader.
var (
	errInputStopped  = errors.New("stopped while waiting for a writer to open it")
	errOutputStopped = errors.New("stopped while waiting for a reader to open it")
)

// openError is a command's error for a failed open of its input or
// output: exit 130 when a Ctrl-C ended the wait for a named pipe's other
// end, a usage error otherwise.
func openError(env Env, err error) error {
	if errors.Is(err, errInputStopped) || errors.Is(err, errOutputStopped) {
		fmt.Fprintf(env.Stderr, "fanout: %v\n", err)
		return exitError{ExitInterrupted}
	}
	return usageError{err}
}

// openPipe opens name, given with flag (--input, -o...), with mode. Opening
// a named pipe waits for the other end, which may never come, and no signal
// ends that open(2): closing stop (the first Ctrl-C or SIGTERM) ends the
// wait instead, with errInputStopped or errOutputStopped, and leaves the
// open behind to close the pipe should the other end come. Its errors name
// the flag and the file.
func openPipe(flag, name string, mode int, stop <-chan struct{}) (*os.File, error) {
	f, err := openWaiting(name, mode, stop)
	switch {
	case errors.Is(err, errInputStopped), errors.Is(err, errOutputStopped):
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	case err != nil:
		return nil, fmt.Errorf("%s %s: %v", flag, name, unwrapPath(err))
	}
	return f, nil
}

func openWaiting(name string, mode int, stop <-chan struct{}) (*os.File, error) {
	if st, err := os.Stat(name); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return os.OpenFile(name, mode, 0o666)
	}
	errStopped := errOutputStopped
	if mode&(os.O_WRONLY|os.O_RDWR) == 0 {
		errStopped = errInputStopped
	}
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(name, mode, 0o666)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-stop:
		go func() {
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, errStopped
	}
}

// keptFile is a file a command reads or keeps, which its -o must not be:
// what is what the refusal calls it.
type keptFile struct{ what, name string }

// dbFiles are the database's file and those SQLite and fanout keep beside
// it.
func dbFiles(db string) []keptFile {
	if db == "" {
		return nil
	}
	var fs []keptFile
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", "-lock"} {
		what := "the --db file " + db
		if suffix != "" {
			what = db + suffix + ", which SQLite and fanout keep beside the --db file " + db
		}
		fs = append(fs, keptFile{what, db + suffix})
	}
	return fs
}

// checkOutput refuses an -o FILE that is one of kept: creating the output
// truncates it before anything is read, so "-i urls.txt -o urls.txt" would
// lose the list and fetch nothing, and "-o runs.db" (a slip for --db) every
// recorded run. Names are compared as absolute paths, and as files when
// both exist (links, ./ and ../ spellings). An existing SQLite database is
// refused too, whether or not it is among kept.
func checkOutput(out string, kept ...keptFile) error {
	return checkWrite("-o", out, kept...)
}

// checkWrite is checkOutput for the file out that flag names.
func checkWrite(flag, out string, kept ...keptFile) error {
	if out == "" || out == "-" {
		return nil
	}
	outInfo, outErr := os.Stat(out)
	outAbs, _ := filepath.Abs(out)
	for _, k := range kept {
		if k.name == "" || k.name == "-" {
			continue
		}
		same := false
		if info, err := os.Stat(k.name); err == nil && outErr == nil {
			same = os.SameFile(outInfo, info)
		} else if abs, err := filepath.Abs(k.name); err == nil {
			same = abs == outAbs
		}
		if same {
			return fmt.Errorf("%s %s is %s: writing there would destroy it; name another output file", flag, out, k.what)
		}
	}
	if outErr == nil && outInfo.Mode().IsRegular() && isSQLite(out) {
		return fmt.Errorf("%s %s is an SQLite database (did you mean --db %s?): writing there would destroy it; name another output file, or remove it first", flag, out, out)
	}
	return nil
}

// isSQLite reports whether the file at name starts with SQLite's header:
// a database that "-o" would truncate, most likely given for --db.
func isSQLite(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	const header = "SQLite format 3\x00"
	b := make([]byte, len(header))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == header
}

// openOutput opens -o FILE, or returns stdout. The returned close function
// reports errors from closing the file (a full disk can surface there).
// The file is opened write-only: os.Create's read-write open of a named
// pipe does not wait for a reader, and results went into the pipe's buffer
// to be lost at exit, or to block the run once it was full.
func openOutput(env Env, name string) (io.Writer, func() error, error) {
	if name == "" || name == "-" {
		return env.Stdout, func() error { return nil }, nil
	}
	f, err := openPipe("--output", name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, env.Interrupt)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// orderGate keeps the reorder buffer of --ordered within the look-ahead
// window. The engine's window counts the targets read and not finished; a
// finished result that waits in the reorder buffer for an earlier one no
// longer counts there, so behind one slow target (a host that trickles for
// its whole --timeout, and its retries) the engine would read on and
// finish the rest of the list into the buffer: memory growing with the
// list. The gate lets the engine take target Seq only once the writer has
// released every result up to Seq-window, so at most window results ever
// wait. It never waits for a target it has not given the engine: every Seq
// below the one it holds was read before, and gets its result.
type orderGate struct {
	src      engine.Source
	window   uint64
	released atomic.Uint64   // the reorder buffer's Next: every Seq below it is written
	wake     chan struct{}   // a nudge after released moved
	done     <-chan struct{} // the run ended: stop waiting
}

func newOrderGate(src engine.Source, l engine.Limits, done <-chan struct{}) *orderGate {
	window := l.Window
	if window <= 0 {
		window = engine.DefaultWindow(l.Concurrency)
	}
	return &orderGate{src: src, window: uint64(window), wake: make(chan struct{}, 1), done: done}
}

func (g *orderGate) Next() (fetch.Target, error) {
	t, err := g.src.Next()
	if err != nil {
		return t, err
	}
	for t.Seq >= g.released.Load()+g.window {
		select {
		case <-g.wake:
		case <-g.done:
			return t, nil // the run is over: the engine abandons or cancels it
		}
	}
	return t, nil
}

// advance publishes the reorder buffer's next Seq; the writer calls it.
func (g *orderGate) advance(next uint64) {
	if next <= g.released.Load() {
		return
	}
	g.released.Store(next)
	select {
	case g.wake <- struct{}{}:
	default:
	}
}
