// Command simweb serves the simulated web of package internal/simweb on
// loopback until its maximum lifetime passes or it gets SIGINT/SIGTERM, and
// optionally writes a named workload's URL list and the curl-style
// --resolve entries that point its host names at the server.
//
// Once listening it prints one line on stderr (and to --ready-file):
//
//	simweb ready pid=PID http=IP:PORT,... https=IP:PORT,... resolve=*:PORT:IP,...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fanout/fanout/internal/simweb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	cfg          simweb.Config
	spec         simweb.WorkloadSpec
	out          string
	resolveFile  string
	printResolve bool
	caFile       string
	readyFile    string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("simweb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: simweb [flags]\n\nServes a simulated web on loopback (see internal/simweb for the path language).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.cfg.Addr, "addr", "127.0.0.1", "loopback `IP` to listen on (non-loopback addresses are refused)")
	fs.IntVar(&o.cfg.Ports, "ports", 1, "number of plain HTTP listeners")
	fs.IntVar(&o.cfg.TLSPorts, "tls-ports", 0, "number of HTTPS listeners")
	fs.IntVar(&o.cfg.BasePort, "base-port", 0, "first `port` (plain, then TLS, consecutive); 0 picks free ports")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "seed for host profiles, /mix, /page and /latency")
	fs.DurationVar(&o.cfg.MaxLifetime, "max-lifetime", simweb.DefaultMaxLifetime, "exit after this long")
	fs.StringVar(&o.spec.Name, "workload", "", "write this workload's URLs: "+strings.Join(simweb.WorkloadNames, ", "))
	fs.IntVar(&o.spec.N, "n", 0, "number of workload URLs (0: the workload's default)")
	fs.IntVar(&o.spec.Hosts, "hosts", 0, "number of workload host names (0: the workload's default)")
	fs.DurationVar(&o.spec.Hold, "hold", 0, "how long each request of the hold workload is held (0: 10s)")
	fs.Uint64Var(&o.spec.Seed, "workload-seed", 1, "seed for the workload's choice of hosts and paths")
	fs.BoolVar(&o.spec.TLS, "tls", false, "make https workload URLs on the TLS listeners")
	fs.StringVar(&o.out, "o", "", "write the workload to `file` instead of stdout")
	fs.StringVar(&o.resolveFile, "resolve-file", "", "write the --resolve entries (*:PORT:IP), one a line, to `file`")
	fs.BoolVar(&o.printResolve, "print-resolve", false, "print the --resolve entries on stdout")
	fs.StringVar(&o.caFile, "ca-file", "", "write the TLS listeners' CA certificate (PEM) to `file`, for --cacert")
	fs.StringVar(&o.readyFile, "ready-file", "", "write the ready line to `file` once listening")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.spec.TLS && o.cfg.TLSPorts == 0 {
		return o, errors.New("--tls needs --tls-ports of at least 1")
	}
	if o.printResolve && o.spec.Name != "" && o.out == "" {
		return o, errors.New("--print-resolve and a workload on stdout would mix; use -o or --resolve-file")
	}
	if o.caFile != "" && o.cfg.TLSPorts == 0 {
		return o, errors.New("--ca-file needs --tls-ports of at least 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "simweb: %v\n", err)
		return 2
	}
	s, err := simweb.Start(o.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	defer s.Close()
	if err := writeOutputs(s, o, stdout); err != nil {
		fmt.Fprintf(stderr, "simweb: %v\n", err)
		return 1
	}
	ready := fmt.Sprintf("simweb ready pid=%d http=%s https=%s resolve=%s\n", os.Getpid(),
		strings.Join(s.Addrs(), ","), strings.Join(s.TLSAddrs(), ","), strings.Join(s.ResolveArgs(), ","))
	io.WriteString(stderr, ready)
	if o.readyFile != "" {
		if err := writeFileAtomic(o.readyFile, []byte(ready)); err != nil {
			fmt.Fprintf(stderr, "simweb: %v\n", err)
			return 1
		}
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "simweb: signal received, closing")
	case <-s.Done():
		fmt.Fprintf(stderr, "simweb: max lifetime %v reached, closing\n", o.cfg.MaxLifetime)
	}
	s.Close()
	st := s.Stats()
	fmt.Fprintf(stderr, "simweb: served %d requests over %d hosts (%d refused with 429)\n", st.Requests, st.Hosts, st.TooMany)
	return 0
}

// writeOutputs writes the workload, the resolve entries and the CA file.
func writeOutputs(s *simweb.Server, o options, stdout io.Writer) error {
	resolve := strings.Join(s.ResolveArgs(), "\n") + "\n"
	if o.printResolve {
		if _, err := io.WriteString(stdout, resolve); err != nil {
			return fmt.Errorf("write resolve entries: %w", err)
		}
	}
	if o.resolveFile != "" {
		if err := writeFileAtomic(o.resolveFile, []byte(resolve)); err != nil {
			return err
		}
	}
	if o.caFile != "" {
		if err := writeFileAtomic(o.caFile, s.CAPEM()); err != nil {
			return err
		}
	}
	if o.spec.Name == "" {
		return nil
	}
	spec := o.spec
	spec.Ports = s.Ports()
	if spec.TLS {
		spec.Ports = s.TLSPorts()
	}
	if len(spec.Ports) == 0 {
		return errors.New("workload needs at least one plain listener (--ports) or --tls")
	}
	w := stdout
	var f *os.File
	if o.out != "" {
		var err error
		if f, err = os.Create(o.out); err != nil {
			return fmt.Errorf("create workload file: %w", err)
		}
		w = f
	}
	_, err := simweb.WriteWorkload(w, spec)
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	return err
}

// writeFileAtomic writes through a temporary file and a rename, so a
// script polling for path never reads it half written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".simweb-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
