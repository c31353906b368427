//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// listBaseline is the length of the short list whose peak RSS is
// subtracted: the growth is what the extra lines cost.
const listBaseline = 100_000

// runList runs fanout over a long list of distinct URLs (b.listN lines) and
// over a 100k-line list, with and without dedupe, and reports the growth of
// peak RSS: what a long input costs beyond a short one.
func runList(b *bench) error {
	const hosts, c = 64, 200
	sw, err := startSimweb(b, 8, 4*b.jobTimeout+time.Minute)
	if err != nil {
		return err
	}
	defer sw.stop()
	big := filepath.Join(b.out, fmt.Sprintf("list-%d.urls", b.listN))
	small := filepath.Join(b.out, fmt.Sprintf("list-%d.urls", listBaseline))
	for path, n := range map[string]int{big: b.listN, small: listBaseline} {
		if err := writeList(path, n, hosts, sw.ports, b.listEndpoint); err != nil {
			return err
		}
	}
	res := &memResult{key: "list10m", title: fmt.Sprintf("memory: a %d-line list (c=%d, %s)", b.listN, c, b.listEndpoint)}
	for _, dedupe := range b.listModes {
		var peaks [2]int64
		for i, n := range []int{listBaseline, b.listN} {
			path := small
			if n == b.listN {
				path = big
			}
			argv := []string{b.fanout, "-q", "-f", "jsonl", "-c", strconv.Itoa(c), "--per-host", strconv.Itoa(c), "--retries", "0"}
			if !dedupe {
				argv = append(argv, "--no-dedupe")
			}
			argv = append(append(argv, sw.resolveArgs()...), "-i", path)
			name := fmt.Sprintf("list-%d-dedupe=%v", n, dedupe)
			m := runJob(b, job{name: name, argv: argv, timeout: 4 * b.jobTimeout})
			b.logf("%s: wall %.1fs cpu %.1fs rss %d KiB lines %d %s", name, m.Wall, m.CPU(), m.MaxRSSKB, m.Lines, m.Err)
			if m.Err != "" {
				return fmt.Errorf("%s: %s", name, m.Err)
			}
			peaks[i] = m.MaxRSSKB * 1024
			res.runs = append(res.runs, memRun{label: fmt.Sprintf("dedupe=%v", dedupe), n: n, argv: shellQuote(argv), m: m,
				extra: fmt.Sprintf("%.0f req/s", float64(n)/m.Wall)})
		}
		growth := peaks[1] - peaks[0]
		limit, what := int64(100_000_000), "with dedupe: RSS growth ≤ 100 MB"
		if !dedupe {
			limit, what = 10_000_000, "without dedupe: RSS growth ≤ 10 MB"
		}
		res.lines = append(res.lines, check(what, growth <= limit,
			fmt.Sprintf("%.1f MB (%.1f MiB → %.1f MiB)", float64(growth)/1e6, float64(peaks[0])/(1<<20), float64(peaks[1])/(1<<20))))
	}
	b.report.addMemory(res)
	return nil
}

// writeList writes n distinct URLs over hosts host names spread on ports,
// unless the file is already there with the same size in lines.
func writeList(path string, n, hosts int, ports []int, endpoint string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	for i := range n {
		h := i % hosts
		buf = append(buf[:0], "http://h"...)
		buf = strconv.AppendInt(buf, int64(h), 10)
		buf = append(buf, ".sim:"...)
		buf = strconv.AppendInt(buf, int64(ports[h%len(ports)]), 10)
		buf = append(buf, endpoint...)
		buf = append(buf, "?n="...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
