//go:build linux

package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// netHTTPMain is the "__nethttp -c N -i FILE [--timeout D] [--resolve
// *:PORT:ADDR]..." subcommand: the least a Go program can do with net/http
// for the same list — C goroutines, each GET, read and discard the body,
// print one line. No parsing, no title, no hash, no scheduling, no retries.
// It is in the comparison as the floor under fanout's CPU per request:
// fanout uses net/http as its HTTP core, so it cannot go below this.
func netHTTPMain(args []string) int {
	fs := flag.NewFlagSet("__nethttp", flag.ContinueOnError)
	c := fs.Int("c", 100, "requests in flight")
	in := fs.String("i", "", "URL list, one a line")
	timeout := fs.Duration("timeout", 10*time.Second, "per request")
	var resolve multiFlag
	fs.Var(&resolve, "resolve", "*:PORT:ADDR (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pin := map[string]string{} // port -> address
	for _, r := range resolve {
		parts := strings.Split(r, ":")
		if len(parts) != 3 {
			fmt.Fprintf(os.Stderr, "__nethttp: bad --resolve %q\n", r)
			return 2
		}
		pin[parts[1]] = parts[2]
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		MaxIdleConnsPerHost: *c, MaxIdleConns: *c, DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, port, err := net.SplitHostPort(addr); err == nil && pin[port] != "" {
				addr = net.JoinHostPort(pin[port], port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "__nethttp: %v\n", err)
		return 2
	}
	defer f.Close()
	urls := make(chan string, *c)
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range urls {
				start := time.Now()
				status := 0
				if resp, err := client.Get(u); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %.6f\n", status, time.Since(start).Seconds())
				mu.Unlock()
			}
		}()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if u := strings.TrimSpace(sc.Text()); u != "" {
			urls <- u
		}
	}
	close(urls)
	wg.Wait()
	out.Flush()
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
