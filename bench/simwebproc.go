//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// simwebProc is a simweb server running as its own process, so its open
// files count against its own limit, not the client's.
type simwebProc struct {
	cmd     *exec.Cmd
	ports   []int
	resolve []string // curl-style *:PORT:127.0.0.1 entries
}

// startSimweb starts bench/out/simweb with n plain listeners and waits for
// its ready file.
func startSimweb(b *bench, ports int, lifetime time.Duration) (*simwebProc, error) {
	ready := filepath.Join(b.out, "simweb-ready.txt")
	os.Remove(ready)
	logf, err := os.Create(filepath.Join(b.out, "simweb.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.simweb, "--ports", strconv.Itoa(ports),
		"--max-lifetime", lifetime.String(), "--ready-file", ready)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start simweb: %w", err)
	}
	logf.Close()
	p := &simwebProc{cmd: cmd}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(ready)
		if err == nil {
			if err := p.parseReady(string(data)); err != nil {
				p.stop()
				return nil, err
			}
			return p, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop()
	return nil, errors.New("simweb did not become ready within 15s (see bench/out/simweb.log)")
}

// parseReady reads "simweb ready pid=… http=IP:PORT,… https=… resolve=…".
func (p *simwebProc) parseReady(line string) error {
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "http":
			for _, a := range strings.Split(v, ",") {
				_, port, _ := strings.Cut(a, ":")
				n, err := strconv.Atoi(port)
				if err != nil {
					return fmt.Errorf("simweb ready line %q: bad address %q", line, a)
				}
				p.ports = append(p.ports, n)
			}
		case "resolve":
			p.resolve = strings.Split(v, ",")
		}
	}
	if len(p.ports) == 0 || len(p.resolve) == 0 {
		return fmt.Errorf("simweb ready line %q: no ports", line)
	}
	return nil
}

// resolveArgs returns "--resolve E" pairs, understood by fanout and curl.
func (p *simwebProc) resolveArgs() []string {
	var args []string
	for _, r := range p.resolve {
		args = append(args, "--resolve", r)
	}
	return args
}

// stop ends the server: SIGTERM, then SIGKILL after 5 s.
func (p *simwebProc) stop() {
	pid := p.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}
