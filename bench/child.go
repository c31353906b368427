//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// usage is what the wrapper reports about the command it ran: the wall time
// of the command alone and getrusage(RUSAGE_CHILDREN) after waiting for it,
// which covers the command and every descendant it waited for (xargs waits
// for each curl), so CPU is the sum over the process tree and MaxRSS the
// largest single process in it.
type usage struct {
	Wall     float64 `json:"wall"`
	User     float64 `json:"user"`
	Sys      float64 `json:"sys"`
	MaxRSSKB int64   `json:"maxrss_kib"`
	Exit     int     `json:"exit"`
}

// wrapMain is the "__wrap RESULT CMD ARGS..." subcommand: run CMD with the
// wrapper's streams and write its usage as JSON to RESULT.
func wrapMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "bench: __wrap needs RESULT CMD [ARGS...]")
		return 2
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	u := usage{Wall: time.Since(start).Seconds()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		u.Exit = ee.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench: run %s: %v\n", args[1], err)
		return 1
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		fmt.Fprintf(os.Stderr, "bench: getrusage: %v\n", err)
		return 1
	}
	u.User = tvSeconds(ru.Utime)
	u.Sys = tvSeconds(ru.Stime)
	u.MaxRSSKB = int64(ru.Maxrss) // int32 on 386
	data, _ := json.Marshal(u)
	if err := os.WriteFile(args[0], data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// job is one measured run of a command.
type job struct {
	name    string   // for file names and messages
	argv    []string // the command
	stdout  string   // file for the command's stdout; "" counts lines through a pipe
	timeout time.Duration
}

// measure is what one run of a tool produced.
type measure struct {
	usage
	Lines   int64  // result lines on stdout
	Timeout bool   // killed at the deadline
	Err     string // why the run failed, if it did
}

// CPU is user plus system seconds.
func (m measure) CPU() float64 { return m.User + m.Sys }

// runJob runs j under the wrapper in its own process group, kills the group
// at the deadline, and counts the result lines.
func runJob(b *bench, j job) measure {
	res := filepath.Join(b.out, "usage-"+j.name+".json")
	os.Remove(res)
	cmd := exec.Command(b.self, append([]string{"__wrap", res}, j.argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	errf, err := os.Create(filepath.Join(b.out, "stderr-"+j.name+".txt"))
	if err != nil {
		return measure{Err: err.Error()}
	}
	defer errf.Close()
	cmd.Stderr = errf
	var lines chan int64
	if j.stdout != "" {
		f, err := os.Create(j.stdout)
		if err != nil {
			return measure{Err: err.Error()}
		}
		defer f.Close()
		cmd.Stdout = f
	} else {
		pr, err := cmd.StdoutPipe()
		if err != nil {
			return measure{Err: err.Error()}
		}
		lines = make(chan int64, 1)
		go func() { lines <- countLines(pr) }()
	}
	if err := cmd.Start(); err != nil {
		return measure{Err: err.Error()}
	}
	var m measure
	var killed atomic.Bool
	timer := time.AfterFunc(j.timeout, func() {
		killed.Store(true)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	if lines != nil {
		m.Lines = <-lines
	}
	werr := cmd.Wait()
	timer.Stop()
	m.Timeout = killed.Load()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // strays, if any
	return finishJob(m, werr, res, j)
}

func finishJob(m measure, werr error, res string, j job) measure {
	if m.Timeout {
		m.Err = fmt.Sprintf("killed after %s", j.timeout)
		return m
	}
	if werr != nil {
		m.Err = fmt.Sprintf("wrapper: %v", werr)
		return m
	}
	data, err := os.ReadFile(res)
	if err == nil {
		err = json.Unmarshal(data, &m.usage)
	}
	if err != nil {
		m.Err = fmt.Sprintf("usage: %v", err)
		return m
	}
	if j.stdout != "" {
		m.Lines, err = countFileLines(j.stdout)
		if err != nil {
			m.Err = err.Error()
		}
	}
	return m
}

func countLines(r io.Reader) int64 {
	br := bufio.NewReaderSize(r, 1<<20)
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := br.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}

func countFileLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return countLines(f), nil
}

// shellQuote renders argv for the report, quoting what a shell would need.
func shellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " '\"\\$*?&;|<>(){}\n") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
