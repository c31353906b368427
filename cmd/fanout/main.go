// Command fanout fetches many URLs concurrently and reports what happened to
// each. See README.md, or run fanout --help.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/fanout/fanout/internal/cli"
)

func main() { os.Exit(run()) }

// abortGrace is how long the process may take to end after the second
// signal before it exits regardless.
const abortGrace = 5 * time.Second

// sameSignal is how soon after the first a repeat of the same signal is
// taken for the same one, not for a second asking to abort: GNU timeout
// sends its signal to fanout and then to its process group, fanout in it,
// microseconds apart, and `timeout 10m fanout ...` then aborted the run it
// meant to drain, the requests in flight canceled (found in review: 1 run
// in 6 here). Ctrl-C pressed twice is tenths of a second apart at least.
const sameSignal = 100 * time.Millisecond

// run exists so that deferred cleanups happen before os.Exit.
func run() int {
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	interrupt := make(chan struct{})
	again := "Ctrl-C" // what the first signal was, named before interrupt is closed
	sigs := make(chan os.Signal, 2)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		// A signal fanout was started ignoring stays ignored: nohup's
		// SIGHUP, and the SIGINT a shell without job control ignores for
		// a command run in the background (fanout ... &), which Ctrl-C
		// meant for the foreground must not stop. Notify would catch it.
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	defer signal.Stop(sigs)
	// A closed stdout (fanout ... | head -1) then fails the write with EPIPE,
	// which fanout reports and exits on, instead of dying silently.
	signal.Ignore(syscall.SIGPIPE)
	// net/http logs some server misbehaviour through the standard logger
	// ("Unsolicited response received on idle HTTP channel", after a
	// server sent bytes nobody asked for): a line on stderr, also with -q
	// and across the progress bar, about nothing the user can act on.
	// fanout itself never writes through it.
	log.SetOutput(io.Discard)
	go func() {
		// First signal: drain. Second: abort everything now. SIGHUP, the
		// terminal gone (a lost SSH session), is a first signal too:
		// killed by it, fanout lost the results finished but not yet
		// flushed and those in flight, and -o kept no line for them.
		first := <-sigs
		firstAt := time.Now()
		switch first {
		case syscall.SIGTERM:
			again = "SIGTERM"
		case syscall.SIGHUP:
			again = "SIGHUP"
		}
		close(interrupt)
		for aborted := false; !aborted; {
			select {
			case sig := <-sigs:
				aborted = sig != first || time.Since(firstAt) >= sameSignal
			case <-ctx.Done():
				return
			}
		}
		abort()
		// The abort ends the run at once, unless a write to the output
		// is blocked: a consumer that stopped reading (a stalled pipe, a
		// paused pager) holds the write, and the process with it, however
		// long it likes, and no abort reaches a blocked write(2). "Now"
		// then has to mean now.
		select {
		case <-time.After(abortGrace):
		case <-sigs: // a third signal: do not wait the grace out
		}
		// stderr may be the same stalled pipe (fanout ... 2>&1 | less,
		// paused): the message must not hold the exit in its turn.
		said := make(chan struct{})
		go func() {
			fmt.Fprintln(os.Stderr, "fanout: aborted: still running 5s after the second signal (is the output being read?); exiting without the summary")
			close(said)
		}()
		select {
		case <-said:
		case <-time.After(time.Second):
		}
		os.Exit(130)
	}()
	env := cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interrupt: interrupt,
		Again:   func() string { return again }, // read once interrupt is closed
		OneCore: oneCore,
	}
	if os.Getenv("GOMAXPROCS") == "" { // set, the user chose; workers keep it
		env.Procs = procs(runtime.GOMAXPROCS(0))
	}
	return cli.Main(ctx, env, os.Args[1:])
}

// procs is cli.Env's Procs: runtime.GOMAXPROCS, except that setting def,
// the runtime's default at the start, gives the runtime back its default.
// A call of runtime.GOMAXPROCS turns off the runtime's updates of it when
// the CPU limit changes (a container resized while the worker runs): a
// worker that shared the machine's cores a while would otherwise keep its
// start's count for good.
func procs(def int) func(int) int {
	return func(n int) int {
		if n == def {
			prev := runtime.GOMAXPROCS(0)
			setDefaultProcs()
			return prev
		}
		return runtime.GOMAXPROCS(n)
	}
}

// setDefaultProcs is runtime.SetDefaultGOMAXPROCS; tests see its calls.
var setDefaultProcs = runtime.SetDefaultGOMAXPROCS

// oneCore sets GOMAXPROCS to 1 unless the environment sets it. internal/cli
// calls it for the commands whose work is one pipeline, far faster than
// the workers it feeds or drains (submit, nats, collect without --db), so
// that a second P barely speeds it up. On the bench's VM that P cost them
// CPU: a quarter of the three processes' CPU in a 100,000-target run, with
// a third to a half fewer context switches on one P (BENCHMARKS.md, "dist:
// one P for the pipelines").
func oneCore() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
