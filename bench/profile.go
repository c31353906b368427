//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/fanout/fanout/internal/cli"
)

// fanoutMain is the "__fanout [-cpuprofile F] [-heapprofile F] -- ARGS..."
// subcommand: fanout's own command line run in this process, profiled for
// `go tool pprof`. fanout has no profiling flag, and this runs exactly its
// code:
//
//	go build -o bench/out/bench ./bench
//	bench/out/bench __fanout -cpuprofile cpu.prof -- -q -c 100 -i urls.txt > /dev/null
//	go tool pprof -top bench/out/bench cpu.prof
func fanoutMain(args []string) int {
	fs := flag.NewFlagSet("__fanout", flag.ContinueOnError)
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	heap := fs.String("heapprofile", "", "write a heap profile to `file` after -heap-after")
	after := fs.Duration("heap-after", 3*time.Second, "when to take the heap profile")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *heap != "" {
		time.AfterFunc(*after, func() { writeHeapProfile(*heap) })
	}
	if *cpu == "" {
		return runFanout(fs.Args())
	}
	f, err := os.Create(*cpu)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	code := runFanout(fs.Args())
	pprof.StopCPUProfile()
	return code
}

func runFanout(args []string) int {
	return cli.Main(context.Background(), cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interrupt: make(chan struct{}),
	}, args)
}

// writeHeapProfile writes the live heap (inuse_space) to path.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return
	}
	defer f.Close()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "bench: heap in use %d MiB, stacks %d MiB, runtime Sys %d MiB, %d goroutines\n",
		ms.HeapInuse>>20, ms.StackInuse>>20, ms.Sys>>20, runtime.NumGoroutine())
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	}
}
