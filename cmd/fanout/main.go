// Command fanout fetches many URLs concurrently and reports what happened to
// each. See README.md, or run fanout --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fanout/fanout/internal/cli"
)

func main() { os.Exit(run()) }

// run exists so that deferred cleanups happen before os.Exit.
func run() int {
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	interrupt := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A closed stdout (fanout ... | head -1) then fails the write with EPIPE,
	// which fanout reports and exits on, instead of dying silently.
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		// First signal: drain. Second: abort everything now.
		<-sigs
		close(interrupt)
		select {
		case <-sigs:
			abort()
		case <-ctx.Done():
		}
	}()
	return cli.Main(ctx, cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interrupt: interrupt,
	}, os.Args[1:])
}
