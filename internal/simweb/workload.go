package simweb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WorkloadNames lists the workloads Workload knows.
var WorkloadNames = []string{"demo", "ok", "delay100", "manyhosts", "mixed", "hold"}

// WorkloadSpec names a workload and sizes it. Zero fields take the named
// workload's defaults.
type WorkloadSpec struct {
	// Name is one of WorkloadNames.
	Name string
	// N is the number of URLs (defaults: demo 2000, manyhosts 10000,
	// others 1000).
	N int
	// Hosts is the number of distinct host names h0.sim ... (defaults: demo
	// and mixed 50, manyhosts 2000, hold 100, ok and delay100 1).
	Hosts int
	// Hold is how long each "hold" request is held (default 10s).
	Hold time.Duration
	// Seed makes the choice of hosts and paths reproducible.
	Seed uint64
	// Ports are the listener ports to spread hosts over; Server.Workload
	// fills them from the server.
	Ports []int
	// TLS makes https URLs (Ports should then be TLS ports).
	TLS bool
}

func (spec WorkloadSpec) withDefaults() (WorkloadSpec, error) {
	if !slices.Contains(WorkloadNames, spec.Name) {
		return spec, fmt.Errorf("simweb: unknown workload %q (want one of %v)", spec.Name, WorkloadNames)
	}
	if len(spec.Ports) == 0 {
		return spec, errors.New("simweb: workload " + spec.Name + " has no ports")
	}
	if spec.N < 0 || spec.Hosts < 0 || spec.Hold < 0 {
		return spec, fmt.Errorf("simweb: workload %s: negative n, hosts or hold", spec.Name)
	}
	defN, defHosts := 1000, 1
	switch spec.Name {
	case "demo":
		defN, defHosts = 2000, 50
	case "mixed":
		defHosts = 50
	case "manyhosts":
		defN, defHosts = 10000, 2000
	case "hold":
		defHosts = 100
	}
	if spec.N == 0 {
		spec.N = defN
	}
	if spec.Hosts == 0 {
		spec.Hosts = defHosts
	}
	if spec.Hold == 0 {
		spec.Hold = 10 * time.Second
	}
	return spec, nil
}

// Workload returns the URL lines of a named workload. The same spec always
// yields the same lines. Every URL is distinct (a counter in the path or
// query), so a client that removes duplicates fetches them all.
func Workload(spec WorkloadSpec) (iter.Seq[string], error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	scheme := "http://"
	if spec.TLS {
		scheme = "https://"
	}
	hostURL := func(host string) string {
		return scheme + net.JoinHostPort(host, strconv.Itoa(portFor(host, spec.Ports)))
	}
	hosts := make([]string, spec.Hosts)
	for i := range hosts {
		hosts[i] = hostURL("h" + strconv.Itoa(i) + ".sim")
	}
	hostile := []string{hostURL("bad1.sim"), hostURL("bad2.sim"), hostURL("bad3.sim")}
	return func(yield func(string) bool) {
		g := newRNG(seedHash(spec.Seed, "workload "+spec.Name))
		for i := range spec.N {
			n := strconv.Itoa(i)
			var line string
			switch spec.Name {
			case "ok":
				line = hosts[i%len(hosts)] + "/ok?n=" + n
			case "delay100":
				line = hosts[i%len(hosts)] + "/delay/100ms?n=" + n
			case "hold":
				line = hosts[i%len(hosts)] + "/delay/" + spec.Hold.String() + "?n=" + n
			case "manyhosts":
				line = hosts[i%len(hosts)] + "/ok?n=" + n
			case "mixed":
				line = hosts[g.intn(len(hosts))] + mixedPath(g, n)
			case "demo":
				line = demoLine(g, hosts, hostile, n)
			}
			if !yield(line) {
				return
			}
		}
	}, nil
}

// Workload is the package Workload with Ports (and TLS ports when spec.TLS)
// taken from the server when spec.Ports is empty.
func (s *Server) Workload(spec WorkloadSpec) (iter.Seq[string], error) {
	if len(spec.Ports) == 0 {
		spec.Ports = s.Ports()
		if spec.TLS {
			spec.Ports = s.TLSPorts()
		}
	}
	return Workload(spec)
}

// WriteWorkload writes the workload's URLs to w, one a line, and returns
// how many it wrote.
func WriteWorkload(w io.Writer, spec WorkloadSpec) (int, error) {
	seq, err := Workload(spec)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	n := 0
	for line := range seq {
		bw.WriteString(line)
		if err := bw.WriteByte('\n'); err != nil {
			return n, fmt.Errorf("simweb: write workload: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("simweb: write workload: %w", err)
	}
	return n, nil
}

// faultPaths are the hostile behaviours a "mixed" or "demo" workload draws
// from. Slow ones are bounded so that a client without timeouts still ends.
var faultPaths = []string{
	"/fault/reset", "/fault/close", "/fault/malformed", "/fault/bad-header",
	"/fault/reset-mid-body", "/fault/short-body", "/fault/silence",
	"/fault/silence-body", "/fault/trickle?every=1s&n=5", "/fault/slow-headers?every=100ms",
	"/fault/endless", "/gzip-bomb?size=1GiB", "/title/escape", "/redirect-loop",
	"/redirect-to?u=ftp://x.sim/", "/encoding/corrupt-gzip", "/encoding/lying",
	"/status/500", "/status/503?retry_after=2", "/status/404", "/size/10MiB",
}

// otherPaths are the ordinary-but-interesting paths of "mixed" and "demo".
var otherPaths = []string{
	"/redirect/1", "/redirect/2", "/redirect/3?code=301", "/title/windows-1252",
	"/title/shift_jis", "/title/utf-8?declare=meta", "/encoding/gzip", "/encoding/br",
	"/latency/lognormal?median=50ms&sigma=1", "/mix?seed=1", "/status/410", "/size/100KiB",
}

// mixedPath: about 20% faults of every kind, 10% other paths, the rest OK.
func mixedPath(g *rng, n string) string {
	u := g.float()
	switch {
	case u < 0.20:
		return withCounter(faultPaths[g.intn(len(faultPaths))], n)
	case u < 0.30:
		return withCounter(otherPaths[g.intn(len(otherPaths))], n)
	}
	return "/ok?n=" + n
}

// demoLine: mostly /page URLs on profiled hosts (heavy-tailed latency, a
// few percent errors), some redirects and odd titles, and 2% hostile URLs
// concentrated on three hostile hosts.
func demoLine(g *rng, hosts, hostile []string, n string) string {
	u := g.float()
	switch {
	case u < 0.02:
		return hostile[g.intn(len(hostile))] + withCounter(faultPaths[g.intn(len(faultPaths))], n)
	case u < 0.12:
		return hosts[g.intn(len(hosts))] + withCounter(otherPaths[g.intn(len(otherPaths))], n)
	}
	return hosts[g.intn(len(hosts))] + "/page/" + n
}

func withCounter(path, n string) string {
	if strings.Contains(path, "?") {
		return path + "&n=" + n
	}
	return path + "?n=" + n
}
