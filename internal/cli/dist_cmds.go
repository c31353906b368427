package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fanout/fanout/dist"
	"github.com/fanout/fanout/fetch"
	"github.com/fanout/fanout/input"
	"github.com/fanout/fanout/internal/coreshare"
	"github.com/fanout/fanout/output"
	"github.com/fanout/fanout/store"
)

func init() {
	subcommands = append(subcommands, newSubmitCmd, newWorkerCmd, newCollectCmd, newStatusCmd, newNATSCmd)
}

// natsFlags are the connection flags every distributed command takes.
// Secrets come from flags or the environment and are never printed.
type natsFlags struct{ o dist.Options }

func (n *natsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&n.o.URL, "nats", envOr("FANOUT_NATS", dist.Embedded), "NATS server `URL`s, comma-separated, or \"embedded\" (use the server on --nats-listen, or start one there) ($FANOUT_NATS)")
	// --help shows the default, which $FANOUT_NATS sets: never with the
	// user and password or token its URLs may carry.
	fs.Lookup("nats").DefValue = dist.Redact(n.o.URL)
	fs.StringVar(&n.o.Creds, "creds", os.Getenv("FANOUT_NATS_CREDS"), "NATS credentials `FILE` (JWT and nkey seed, or a user nkey seed alone) ($FANOUT_NATS_CREDS)")
	fs.StringVar(&n.o.Token, "token", "", "NATS authentication token (prefer $FANOUT_NATS_TOKEN: arguments are visible in ps)")
	fs.StringVar(&n.o.TLSCA, "tls-ca", "", "PEM `FILE` of the CA that signed the NATS servers' certificates")
	fs.StringVar(&n.o.TLSCert, "tls-cert", "", "PEM client certificate `FILE` for NATS")
	fs.StringVar(&n.o.TLSKey, "tls-key", "", "PEM client key `FILE` for NATS")
	fs.StringVar(&n.o.Listen, "nats-listen", envOr("FANOUT_NATS_LISTEN", dist.EmbeddedAddr), "with --nats embedded, the `HOST:PORT` of the server ($FANOUT_NATS_LISTEN)")
	fs.StringVar(&n.o.StoreDir, "nats-store", envOr("FANOUT_NATS_STORE", dist.DefaultStoreDir()), "with --nats embedded, the JetStream `DIR` of a server started here ($FANOUT_NATS_STORE)")
}

func (n *natsFlags) connect(ctx context.Context, env Env, name string) (*dist.Conn, error) {
	o := n.o
	if o.Token == "" {
		o.Token = os.Getenv("FANOUT_NATS_TOKEN")
	}
	o.Name, o.Log = name, env.Stderr
	c, err := dist.Connect(ctx, o)
	switch {
	case unreachable(err):
		// An outage, not a mistake in the command: a script must be able
		// to tell them apart, and try again later.
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		return nil, exitError{ExitIncomplete}
	case err != nil:
		return nil, usageError{err}
	}
	return c, nil
}

// unreachable reports whether err, from connecting to NATS, says that the
// server could not be reached (nats.go gives a refused connection as
// ErrNoServers, other dial errors as they are): an outage, not a mistake
// in the command.
func unreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &opErr) && opErr.Op == "dial" ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout)
}

// errNoRuns is what status without --run says when the server has none.
var errNoRuns = errors.New("no runs")

// lookedOn adds to a run that was not found the server it was looked for
// on: with neither --nats nor $FANOUT_NATS, that is the embedded server,
// which a user who forgot to export $FANOUT_NATS did not mean.
func lookedOn(c *dist.Conn, err error) error {
	if !errors.Is(err, dist.ErrNoRun) && !errors.Is(err, errNoRuns) {
		return err
	}
	if c.Embedded() {
		return fmt.Errorf("%w, on the embedded NATS server this command started (%s): "+
			"name the server with --nats or $FANOUT_NATS", err, c.Server())
	}
	return fmt.Errorf("%w, on %s", err, c.Server())
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// copyFlags adds to dst the flags of src named in names, so that the
// distributed commands take exactly the main command's flags for them.
func copyFlags(dst, src *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if f := src.Lookup(n); f != nil {
			dst.AddFlag(f)
		}
	}
}

// engineFlagNames are the main command's flags that shape the engine.
var engineFlagNames = []string{
	"concurrency", "per-host", "rate", "host-rate", "window",
	"retries", "max-retry-wait", "max-host-errors", "timeout", "connect-timeout",
	"method", "header", "data", "user-agent", "proxy", "insecure", "cacert", "cert", "key", "resolve",
	"http1.1", "max-redirects", "no-follow", "max-body", "no-fallback", "save",
	"response-headers", "match",
}

// profiled adds the main command's hidden --cpuprofile to a distributed
// command, so that each process of a cluster run can be profiled.
func profiled(cmd *cobra.Command) *cobra.Command {
	var name string
	cmd.Flags().StringVar(&name, "cpuprofile", "", "write a Go CPU profile of this process to `FILE` (for performance work)")
	cmd.Flags().MarkHidden("cpuprofile")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if name == "" {
			return run(cmd, args)
		}
		stop, err := startCPUProfile(name)
		if err != nil {
			return usageError{err}
		}
		defer stop()
		return run(cmd, args)
	}
	return cmd
}

// shareCores lets busy workers on one machine split its cores until ctx
// is done (package coreshare says why): with two busy, each takes half of
// its Ps. A worker hosting the embedded server (keep) counts for the
// others but keeps its Ps, which the server's other clients need too: the
// quick start's second worker beside it then takes half, not all.
func shareCores(ctx context.Context, procs func(int) int, w *dist.Worker, keep bool, log io.Writer) {
	base := procs(0)
	cfg := coreshare.Config{
		Dir:    coreshare.Dir("workers"),
		Base:   base,
		Busy:   func() bool { return w.Holding() > 0 },
		Linger: shareLinger,
		Every:  shareEvery,
	}
	if !keep {
		cfg.Set = func(n int) { procs(n) }
		cfg.Changed = func(n, busy int) {
			if log == nil {
				return
			}
			if busy > 1 {
				fmt.Fprintf(log, "fanout worker %s: %d busy workers on this machine: GOMAXPROCS %d of %d\n", w.ID(), busy, n, base)
			} else {
				fmt.Fprintf(log, "fanout worker %s: GOMAXPROCS %d again\n", w.ID(), n)
			}
		}
	}
	if err := coreshare.Run(ctx, cfg); err != nil && log != nil {
		fmt.Fprintf(log, "fanout worker %s: %v (keeping GOMAXPROCS %d)\n", w.ID(), err, base)
	}
}

// shareEvery is how often a worker counts the busy workers on its
// machine; shareLinger how long it counts as busy after its last target,
// so that the gap between two batches does not move cores back and forth.
var shareEvery, shareLinger = time.Second, 3 * time.Second

// askOneCore calls env.OneCore for a command whose work a second P does
// not speed up (submit, collect without --db, nats). c is the command's
// NATS connection, nil for nats itself: a submit or collect that started
// the embedded server serves every worker from its process, which was not
// measured on one P, and keeps its cores.
func askOneCore(env Env, c *dist.Conn) {
	if env.OneCore != nil && (c == nil || !c.Embedded()) {
		env.OneCore()
	}
}

// termSignal is closed on SIGTERM, which a worker treats like a first
// Ctrl-C: finish or hand back in-flight work, then exit.
func termSignal(env Env) (<-chan struct{}, func()) {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-env.Interrupt:
		case <-done:
			return
		}
		close(stop)
	}()
	return stop, func() { signal.Stop(sig); close(done) }
}

func newSubmitCmd(env Env) *cobra.Command {
	var nf natsFlags
	rc := dist.DefaultRunConfig()
	var inputs []string
	var noDedupe, quiet bool
	cmd := &cobra.Command{
		Use:   "submit [--nats URL] [--run NAME] [URL...] [-i FILE]",
		Short: "Queue targets for distributed workers in a NATS JetStream run",
		Long: `submit reads targets as the main command does (arguments, -i FILE, stdin;
same normalisation and dedupe) and publishes them to the run's work-queue
stream, partitioned by host, up to --batch targets of one partition per
message. Batches are cut from the input alone and named after their first
target's input position, so submitting the same input again after a crash
continues from the last acknowledged checkpoint and does not queue anything
twice. It prints the run name on stdout.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rc.Name == "" {
				// The time for people, and a random part: two submits in
				// one second took one name, and the second was refused as
				// another input (or, with the same one, joined the first).
				rc.Name = fmt.Sprintf("run-%s-%04x", time.Now().UTC().Format("20060102-150405"), rand.Uint32()&0xffff)
			}
			if err := rc.Validate(); err != nil {
				return usageError{err}
			}
			in, err := openInputs(env, inputs, args)
			if err != nil {
				return openError(env, err)
			}
			defer in.close()
			c, err := nf.connect(cmd.Context(), env, "fanout submit")
			if err != nil {
				return err
			}
			defer c.Close()
			askOneCore(env, c)
			// A re-submit deduplicates with the run's key, or its targets
			// would be numbered otherwise wherever two hashes collide.
			var key [16]byte
			if m, _, err := dist.LoadMeta(cmd.Context(), c.JS, rc.Name); err == nil {
				key = dedupeKeyOf(m.DedupeKey)
			}
			r := input.NewReader(input.Options{Dedupe: !noDedupe, DedupeKey: key}, in.srcs...)
			if !noDedupe {
				k := r.DedupeKey()
				rc.DedupeKey = hex.EncodeToString(k[:])
			}
			last := time.Now()
			progress := func(n uint64) {
				if !quiet && time.Since(last) >= time.Second {
					last = time.Now()
					fmt.Fprintf(env.Stderr, "fanout submit: %s: %d targets queued\n", rc.Name, n)
				}
			}
			src := stoppable(r, r.Duplicates, env.Interrupt)
			defer src.close()
			// The first Ctrl-C also cancels the submit: one that came as
			// the input ended (a producer killed by it) must not let the
			// run be saved as submitted in full.
			sctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() {
				select {
				case <-env.Interrupt:
					cancel()
				case <-sctx.Done():
				}
			}()
			st, err := dist.Submit(sctx, c, rc, src, progress)
			if err != nil && isClosed(env.Interrupt) {
				err = errors.Join(errInterrupted, err)
			}
			switch {
			case errors.Is(err, errInterrupted):
				// Not the end of the input: the run must not be marked
				// submitted in full with what was read so far.
				fmt.Fprintf(env.Stderr, "fanout submit: %s: interrupted; the run is not submitted in full: submit the same input again to continue it (or fanout status --run %s --delete)\n",
					rc.Name, rc.Name)
				return exitError{ExitInterrupted}
			case errors.Is(err, dist.ErrOtherInput) || errors.Is(err, dist.ErrOldLayout) || errors.Is(err, dist.ErrReplicas):
				// The run is not this input's: submitting again would not
				// help, and the error says what would.
				fmt.Fprintf(env.Stderr, "fanout submit: %v\n", err)
				return exitError{ExitUsage}
			case errors.Is(err, dist.ErrRunDeleted):
				fmt.Fprintf(env.Stderr, "fanout submit: %v (fanout status --delete); submitting it again starts it anew\n", err)
				return exitError{ExitIncomplete}
			case errors.Is(err, dist.ErrConcurrentSubmit):
				// The error says when to submit again.
				fmt.Fprintf(env.Stderr, "fanout submit: %v\n", err)
				return exitError{ExitIncomplete}
			case err != nil:
				fmt.Fprintf(env.Stderr, "fanout submit: %s: %v (submit the same input again to continue)\n", rc.Name, err)
				return exitError{ExitIncomplete}
			}
			fmt.Fprintln(env.Stdout, rc.Name)
			if !quiet {
				how := "new run"
				switch {
				case st.Finished:
					how = "submitted in full before"
				case st.Resumed:
					how = fmt.Sprintf("continued: %d were queued before", st.Skipped)
				}
				fmt.Fprintf(env.Stderr, "fanout submit: %s: %d targets queued (%s, %d published now, %d duplicates in the input)\n",
					rc.Name, st.Meta.Submitted, how, st.Published, src.Duplicates())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	nf.register(fs)
	fs.StringVar(&rc.Name, "run", "", "run `NAME` (default run-YYYYMMDD-HHMMSS-XXXX, XXXX random); submitting to an unfinished run continues it")
	fs.StringArrayVarP(&inputs, "input", "i", nil, "read targets from `FILE`, one per line (repeatable; - for stdin)")
	fs.BoolVar(&noDedupe, "no-dedupe", false, "queue duplicate targets again instead of skipping them")
	fs.IntVar(&rc.Partitions, "partitions", rc.Partitions, "host partitions: one worker at a time serves each (new runs only)")
	fs.IntVar(&rc.Replicas, "replicas", rc.Replicas, "JetStream replicas of the run's streams (3 on a three-server cluster)")
	durationVar(fs, &rc.LeaseTTL, "lease-ttl", rc.LeaseTTL, "a dead worker's partitions pass to others after this long; keep it above 2 × --timeout")
	durationVar(fs, &rc.AckWait, "ack-wait", rc.AckWait, "a dead worker's targets are delivered again after this long")
	durationVar(fs, &rc.DupWindow, "dup-window", rc.DupWindow, "how long JetStream remembers message ids (re-submits, duplicate results)")
	fs.IntVar(&rc.Batch, "batch", rc.Batch, "targets per message, all of one partition (new runs only)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "print only the run name")
	return profiled(cmd)
}

func newWorkerCmd(env Env) *cobra.Command {
	var nf natsFlags
	f := &flags{}
	var run, id string
	var exitWhenDone, quiet bool
	var runWait time.Duration
	var maxParts int
	cmd := &cobra.Command{
		Use:   "worker [--nats URL] [engine flags]",
		Short: "Fetch targets queued with submit and publish their results",
		Long: `worker takes partitions of the oldest run with work left (or of --run), a
fair share each, and fetches their targets with the main command's engine
and flags. A partition is served by one worker at a time (a lease in a
JetStream key-value bucket), so --per-host and --host-rate hold for the
whole cluster. One engine run serves all its partitions. A batch of targets
is acknowledged only after its results are stored. SIGTERM or Ctrl-C:
attempts in flight finish, queued targets go back to the stream, leases are
released, then the worker exits. Busy workers of one user on one machine
share its cores: each takes the machine's GOMAXPROCS divided by their
number, rounded up, unless GOMAXPROCS is set; a worker hosting the embedded
server counts for the others but keeps its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, errs := f.config()
			if err := dist.CheckMaxPartitions(maxParts); err != nil {
				errs = append(errs, err)
			}
			if len(errs) > 0 {
				return usageError{errors.Join(errs...)}
			}
			if warn := fitFileLimit(&cfg); warn != "" {
				fmt.Fprintf(env.Stderr, "fanout: warning: %s\n", warn)
			}
			name := "fanout worker" // the connection's messages name the worker, as its log does
			if id != "" {
				name += " " + id
			}
			c, err := nf.connect(cmd.Context(), env, name)
			if err != nil {
				return err
			}
			defer c.Close()
			var log io.Writer
			if !quiet {
				log = env.Stderr
			}
			w, err := dist.NewWorker(c, dist.WorkerConfig{Engine: cfg, Run: run, ID: id,
				ExitWhenDone: exitWhenDone, RunWait: runWait, MaxPartitions: maxParts, Log: log})
			if err != nil {
				return usageError{flagErrors(err)}
			}
			defer w.Close()
			if !quiet {
				how := "connected to"
				if c.Embedded() {
					how = "started the embedded NATS server on"
				}
				fmt.Fprintf(env.Stderr, "fanout worker %s: %s %s\n", w.ID(), how, c.Server())
			}
			if env.Procs != nil {
				sctx, stopSharing := context.WithCancel(cmd.Context())
				shared := make(chan struct{})
				go func() {
					defer close(shared)
					shareCores(sctx, env.Procs, w, c.Embedded(), log)
				}()
				defer func() { stopSharing(); <-shared }()
			}
			stop, release := termSignal(env)
			defer release()
			if err := w.Run(cmd.Context(), stop); err != nil {
				if cmd.Context().Err() != nil {
					return exitError{ExitInterrupted}
				}
				fmt.Fprintf(env.Stderr, "fanout worker: %v\n", err)
				if errors.Is(err, dist.ErrNoRun) {
					return exitError{ExitUsage} // --run names no run
				}
				return exitError{ExitIncomplete}
			}
			if !quiet {
				fmt.Fprintf(env.Stderr, "fanout worker %s: %d results published\n", w.ID(), w.Done())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	nf.register(fs)
	fs.StringVar(&run, "run", "", "serve only run `NAME` (default: every run, oldest first)")
	fs.StringVar(&id, "id", "", "worker name in leases and status, its own to each worker (default HOST-PID)")
	fs.BoolVar(&exitWhenDone, "exit-when-done", false, "exit once no run has work left instead of waiting for more")
	durationVar(fs, &runWait, "run-wait", dist.DefaultRunWait, "with --run and --exit-when-done, how long to wait for the run to be submitted, or for its streams to open")
	fs.IntVar(&maxParts, "max-partitions", 0, "hold at most this many partitions (0: a fair share)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	all := pflag.NewFlagSet("engine", pflag.ContinueOnError)
	f.register(all)
	copyFlags(fs, all, engineFlagNames...)
	// Not the main command's --accept: a worker judges no result, collect
	// does. It only says which responses --match searches, as there.
	fs.StringVar(&f.accept, "accept", "200..=399", "with --match: the statuses whose bodies are searched, the other results left as they are (give collect's --accept)")
	return profiled(cmd)
}

func newCollectCmd(env Env) *cobra.Command {
	var nf natsFlags
	f := &flags{}
	var run string
	var follow bool
	cmd := &cobra.Command{
		Use:   "collect --run NAME [-f FORMAT] [-o FILE | --db FILE] [--follow]",
		Short: "Write a distributed run's results, each target exactly once",
		Long: `collect reads the run's results stream from its start and writes each
target's result once, in any output format or to the SQLite store. It works
while workers run. Without --follow it ends when it has caught up; with
--follow it ends when every submitted target has a result. The stream keeps
the results, so a collect that died can simply be run again; with --db it
continues the run it recorded, skipping the targets already stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollect(cmd.Context(), env, &nf, f, run, follow)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	nf.register(fs)
	fs.StringVar(&run, "run", "", "the run `NAME` that submit printed")
	fs.BoolVar(&follow, "follow", false, "wait until every submitted target has a result")
	all := pflag.NewFlagSet("collect", pflag.ContinueOnError)
	f.register(all)
	copyFlags(fs, all, "format", "output", "failed", "accepted", "db", "accept", "color", "quiet", "summary-json")
	// The main command's words ("an unfinished run with the same inputs
	// is resumed") do not fit: collect has no inputs (chooseDistRun).
	fs.Lookup("db").Usage = "record the results in the SQLite database `FILE` instead of printing them (not with -o): " +
		"one run there per --run NAME, which a later collect of that NAME continues"
	cmd.MarkFlagRequired("run")
	return profiled(cmd)
}

func runCollect(ctx context.Context, env Env, nf *natsFlags, f *flags, run string, follow bool) error {
	_, acc, errs := f.config()
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	if f.db != "" && f.output != "" {
		return usageError{errors.New("--db and --output: give one (--db records the results; fanout show prints them)")}
	}
	if f.db != "" && f.failed {
		return usageError{errors.New("--db and --failed: --db records every result and writes none; fanout show --failed writes the failed ones")}
	}
	if f.db != "" && f.accepted {
		return usageError{errors.New("--db and --accepted: --db records every result and writes none; fanout show --accepted writes the accepted ones")}
	}
	// Collecting has nothing to drain: the first Ctrl-C or SIGTERM stops
	// it, with what it collected written (or recorded), and a later
	// collect takes up from there.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-env.Interrupt:
			stop()
		case <-ctx.Done():
		}
	}()
	c, err := nf.connect(ctx, env, "fanout collect")
	if err != nil {
		return err
	}
	defer c.Close()
	if f.db == "" {
		// With --db, the store's writer runs beside the decoding: one P
		// made collecting 100,000 results 30% slower for the same CPU.
		askOneCore(env, c)
	}
	// With --follow, a collect started before its submit waits for the run.
	for said := false; ; said = true {
		_, _, err := dist.LoadMeta(ctx, c.JS, run)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return exitError{ExitInterrupted}
		}
		if !follow {
			return usageError{lookedOn(c, err)}
		}
		if !said && !f.quiet {
			fmt.Fprintf(env.Stderr, "fanout collect: %v; waiting for it to be submitted (Ctrl-C stops)\n", lookedOn(c, err))
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	var enc output.Encoder
	closeOut := func() error { return nil }
	opts := dist.CollectOptions{Follow: follow}
	opts.NoWorker = func(waiting uint64) {
		// Also under -q: otherwise a collect of a run nobody serves looks
		// like a hang, which is what it would be.
		fmt.Fprintf(env.Stderr, "fanout collect: %d targets of run %s wait for results and no worker serves it "+
			"(workers without --run take the oldest run first; fanout worker --run %s serves this one); still waiting\n",
			waiting, run, run)
	}
	var rec *distRecording
	if f.db != "" {
		if rec, err = openDistRecording(f, run, acc, env.Interrupt); err != nil {
			if errors.Is(err, store.ErrStopped) {
				fmt.Fprintf(env.Stderr, "fanout: %v\n", err)
				return exitError{ExitInterrupted}
			}
			return usageError{err}
		}
		defer rec.db.Close()
		opts.Seen = rec.prior.Done
		if rec.prior.Results > 0 && !f.quiet {
			// As a resumed run says: the results met again in the stream
			// are these, not duplicates.
			fmt.Fprintf(env.Stderr, "fanout collect: continuing run %d in %s: %d targets already have results\n",
				rec.runID, f.db, rec.prior.Results)
		}
	} else {
		if err := checkOutput(f.output); err != nil {
			return usageError{err}
		}
		out, cl, err := openOutput(env, f.output)
		if err != nil {
			return openError(env, err)
		}
		closeOut = cl
		color := useColor(f.color, f.output, env.Stdout)
		if enc, err = output.NewEncoder(f.format, out, output.EncoderOptions{Color: color, Accept: acc}); err != nil {
			closeOut()
			return usageError{fmt.Errorf("--format: %w", err)}
		}
	}
	sum := output.NewSummary(acc)
	if rw, ok := enc.(output.RecordWriter); ok && rec == nil {
		// Workers send each result as its JSON Lines record: write it
		// through, decoding nothing but what the summary counts. Its
		// "accepted" is this collect's verdict, by its --accept, as the
		// summary and the exit status judge (a worker's --accept says
		// only which bodies its --match searches).
		opts.Raw = func(r *fetch.Result, line []byte) error {
			sum.Add(summarized(r, line, sum))
			ok := acc.OK(r)
			if f.skipsVerdict(ok) {
				return nil
			}
			return rw.WriteRecord(line, ok)
		}
	}
	emit := func(r *fetch.Result) error {
		sum.Add(r)
		if rec != nil {
			rec.rec.Add(r, acc.OK(r))
			return nil
		}
		if f.skipsVerdict(acc.OK(r)) {
			return nil
		}
		return enc.Encode(r)
	}
	flush := func() error {
		if rec != nil {
			if rec.rec.Due() {
				return rec.rec.Cut(nil)
			}
			return rec.rec.Err()
		}
		return enc.Flush()
	}
	start := time.Now()
	st, err := dist.Collect(ctx, c, run, opts, emit, flush)
	// whole counts a continued --db run over this collect and the earlier
	// ones; Results is -1 when it is not one (or cannot be read).
	whole := store.Run{Results: -1}
	if rec != nil {
		if cerr := rec.rec.Close(nil); err == nil {
			err = cerr
		}
		// The run's row as the earlier collects left it, with this one's
		// results counted: its times are theirs (SetState below
		// overwrites finished_at).
		prev, perr := rec.db.Run(rec.runID)
		if rec.prior.Results > 0 && perr == nil {
			whole = prev
		}
		// Without --follow too: a collect that caught up with a run whose
		// every target has its result recorded the run in full.
		switch {
		case err == nil && st.All:
			err = rec.db.SetState(rec.runID, store.StateDone)
		case err == nil || ctx.Err() != nil:
			// Caught up, results still to come, or stopped by Ctrl-C: a
			// later collect continues it. Left running, runs showed it
			// killed.
			if serr := rec.db.SetState(rec.runID, store.StateInterrupted); err == nil {
				err = serr
			}
		}
		// runs gives the run the times of its results, as the summary
		// gives its wall time: this collect's own said nothing of the run
		// (416ms for a run of a minute, and longer each time it was
		// collected again).
		first, last := sum.Bounds()
		if perr == nil && rec.prior.Results > 0 { // the earlier collects' results
			if first.IsZero() || prev.StartedAt.Before(first) {
				first = prev.StartedAt
			}
			if prev.FinishedAt.After(last) {
				last = prev.FinishedAt // zero when the last collect was killed
			}
		}
		// Both known, or the times SetState gave stand: a zero end would
		// read as a run killed.
		if !first.IsZero() && !last.IsZero() && (err == nil || ctx.Err() != nil) {
			if serr := rec.db.SetTimes(rec.runID, first, last); err == nil {
				err = serr
			}
		}
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	// The run's wall time is its results' span, not this collect's (a
	// collect of a finished run took milliseconds, and the summary gave it
	// a speedup of thousands): from the first request's start to the last
	// one's end, whatever the results' order of arrival.
	wall := sum.Span()
	if wall <= 0 {
		wall = time.Since(start)
	}
	sj := sum.JSON(wall)
	sj.Complete = err == nil && st.All
	if whole.Results >= 0 {
		sj.WholeRun = &output.WholeRunJSON{Results: whole.Results, Accepted: whole.Results - whole.Failed, Failed: whole.Failed}
	}
	jsonErr := writeSummaryJSON(f.summaryJSON, sj)
	if jsonErr != nil {
		fmt.Fprintf(env.Stderr, "fanout collect: %v\n", jsonErr)
	}
	if !f.quiet {
		sum.Write(env.Stderr, wall)
		if whole.Results >= 0 {
			// The lines above count this collect; the exit status, the
			// whole run, as after a resume.
			fmt.Fprintf(env.Stderr, "%-13s %d results (this collect and earlier ones), %d accepted, %d failed\n",
				"whole run", whole.Results, whole.Results-whole.Failed, whole.Failed)
		}
		earlier := ""
		if st.Earlier > 0 {
			earlier = fmt.Sprintf(", %d already in %s from an earlier collect", st.Earlier, f.db)
		}
		fmt.Fprintf(env.Stderr, "collected %d results of run %s (%d submitted%s, %d duplicate results dropped)\n",
			st.Written, run, st.Submitted, earlier, st.Duplicates)
		if rec != nil {
			fmt.Fprintf(env.Stderr, "recorded as run %d in %s\n", rec.runID, f.db)
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return exitError{ExitInterrupted}
	case err != nil && closedPipe(err):
		fmt.Fprintf(env.Stderr, "fanout collect: %s, so collect stopped there; "+
			"the run keeps its results: collect again to write them all\n", closedPipeSaid(f.output))
		return exitError{ExitIncomplete}
	case err != nil:
		fmt.Fprintf(env.Stderr, "fanout collect: %v\n", err)
		return exitError{ExitIncomplete}
	case jsonErr != nil:
		return exitError{ExitIncomplete}
	case sum.Failed() > 0, whole.Failed > 0:
		return exitError{ExitFailures}
	}
	return nil
}

// distRecording is a collect into the SQLite store: one store run per
// distributed run, continued by a later collect.
type distRecording struct {
	db    *store.DB
	runID int64
	prior *store.Progress
	rec   *store.Recorder
}

func openDistRecording(f *flags, run string, acc output.Accept, stop <-chan struct{}) (*distRecording, error) {
	db, err := store.Open(f.db)
	if err != nil {
		return nil, err
	}
	// Until the run chosen is locked, as a fanout run's pickRun: two
	// collects of one NATS run started together each created a run of
	// their own and recorded the same results twice.
	unlock, err := db.LockPicking(stop)
	if err != nil {
		db.Close()
		return nil, err
	}
	d, err := chooseDistRun(db, f, run, acc)
	unlock()
	if err != nil {
		db.Close()
		return nil, err
	}
	if d.prior, err = db.Progress(d.runID); err != nil {
		db.Close()
		return nil, err
	}
	d.rec = db.Recorder(d.runID, store.RecorderOptions{Prior: d.prior})
	return d, nil
}

// chooseDistRun finds or creates the run of --db that records NATS run
// run, and locks it; the caller holds LockPicking.
func chooseDistRun(db *store.DB, f *flags, run string, acc output.Accept) (*distRecording, error) {
	runs, err := db.Runs()
	if err != nil {
		return nil, err
	}
	d := &distRecording{db: db}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Config.Flags["nats-run"] == run {
			d.runID = runs[i].ID
			break
		}
	}
	if d.runID == 0 {
		cwd, _ := os.Getwd()
		cfg := store.Config{Dir: cwd, Format: f.format, Accept: acc.String(),
			Flags: map[string]string{"nats-run": run}}
		// The command line names the run, never the connection's secrets.
		if d.runID, err = db.CreateRun([]string{"collect", "--run", run}, cfg); err != nil {
			return nil, err
		}
	}
	if err := db.LockRun(d.runID); err != nil {
		if errors.Is(err, store.ErrRunInUse) {
			return nil, fmt.Errorf("run %d of %s (NATS run %s) is being recorded by another collect right now", d.runID, f.db, run)
		}
		return nil, err
	}
	return d, nil
}

func newStatusCmd(env Env) *cobra.Command {
	var nf natsFlags
	var run string
	var del bool
	cmd := &cobra.Command{
		Use:   "status [--run NAME [--delete]]",
		Short: "Show a distributed run's progress: submitted, done, pending, workers",
		Long: `status shows run NAME's progress on the NATS server: targets submitted, results
stored (and fetched, waiting for their batch), pending and held by workers,
redelivered, partitions and their leases, and each live worker's rate.
Without --run it lists the runs. --delete removes a run's streams, results
and leases.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if del && run == "" {
				// Listing the runs instead would look like success.
				return usageError{errors.New("--delete needs --run NAME (fanout status lists the runs)")}
			}
			c, err := nf.connect(cmd.Context(), env, "fanout status")
			if err != nil {
				return err
			}
			defer c.Close()
			if run == "" {
				metas, err := dist.Runs(cmd.Context(), c.JS)
				if err != nil {
					return usageError{err}
				}
				for _, m := range metas {
					// The state last, for scripts that read the first
					// columns: a run left "submitting" by a submit that
					// died is the one to resubmit or delete.
					state := "submitted"
					if !m.Complete {
						state = "submitting"
					}
					fmt.Fprintf(env.Stdout, "%s\t%d targets\t%s\t%s\n", m.Name, m.Submitted, m.Created.Local().Format(time.DateTime), state)
				}
				if len(metas) == 0 {
					fmt.Fprintf(env.Stderr, "fanout status: %v\n", lookedOn(c, errNoRuns))
				}
				return nil
			}
			if del {
				if err := dist.DeleteRun(cmd.Context(), c.JS, run); err != nil {
					return usageError{err}
				}
				fmt.Fprintf(env.Stderr, "fanout status: deleted run %s (its targets, results and leases)\n", run)
				return nil
			}
			st, err := dist.RunStatus(cmd.Context(), c, run)
			if err != nil {
				return usageError{lookedOn(c, err)}
			}
			st.Write(env.Stdout)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false // in the order submit, worker and collect list theirs
	nf.register(fs)
	fs.StringVar(&run, "run", "", "the run `NAME` (default: list the runs)")
	fs.BoolVar(&del, "delete", false, "delete the run's streams and leases (its results too)")
	return cmd
}

func newNATSCmd(env Env) *cobra.Command {
	var addr, dir string
	cmd := &cobra.Command{
		Use:   "nats",
		Short: "Run a NATS server with JetStream for submit, worker and collect",
		Long: `nats runs the same embedded NATS server (JetStream, file storage) that
--nats embedded starts, in the foreground, until Ctrl-C or SIGTERM. It runs on
one core unless GOMAXPROCS is set: when it serves the workers of many
machines, set GOMAXPROCS to its number of cores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			askOneCore(env, nil)
			host, port, err := splitHostPort(addr)
			if err != nil {
				return usageError{fmt.Errorf("--listen %q: %v", addr, err)}
			}
			srv, err := dist.StartServer(dist.ServerConfig{Host: host, Port: port, StoreDir: dir})
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintf(env.Stderr, "fanout nats: listening on %s, JetStream in %s\n", srv.ClientURL(), dir)
			stop, release := termSignal(env)
			defer release()
			select {
			case <-stop:
			case <-cmd.Context().Done():
			}
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "listen", envOr("FANOUT_NATS_LISTEN", dist.EmbeddedAddr), "`HOST:PORT` to listen on ($FANOUT_NATS_LISTEN)")
	cmd.Flags().StringVar(&dir, "store", envOr("FANOUT_NATS_STORE", dist.DefaultStoreDir()), "JetStream `DIR` ($FANOUT_NATS_STORE)")
	return profiled(cmd)
}

func splitHostPort(s string) (string, int, error) {
	var host string
	var port int
	i := len(s) - 1
	for i >= 0 && s[i] != ':' {
		i--
	}
	if i < 0 {
		return "", 0, errors.New("want HOST:PORT")
	}
	host = s[:i]
	if _, err := fmt.Sscanf(s[i+1:], "%d", &port); err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return host, port, nil
}

// summarized is r, a result collect writes through undecoded (its
// summary fields only), with what sum needs to name it decoded from its
// record line: the input of a failed target it lists, and for a skipped
// one the host to count it under, which for a redirect into a skipped
// host, not followed, is where it pointed (Location), as in a decoded
// result. r is reused by the caller: a decoded r is a copy.
func summarized(r *fetch.Result, line []byte, sum *output.Summary) *fetch.Result {
	skipped := r.Error != nil && r.Error.Kind == fetch.KindSkipped && r.URL == ""
	if !(r.Input == "" && sum.Lists(r) || skipped) {
		return r
	}
	var in struct {
		Input     string      `json:"input"`
		URL       string      `json:"url"`
		Location  string      `json:"location"`
		Redirects []fetch.Hop `json:"redirects"`
	}
	if json.Unmarshal(line, &in) != nil {
		return r
	}
	named := *r
	named.Input, named.URL, named.Location, named.Redirects = in.Input, in.URL, in.Location, in.Redirects
	return &named
}
