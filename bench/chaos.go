//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// runChaos runs the engine's chaos test at full size (20,000 targets, 20%
// of them hostile, c=500; 5,000 with -quick), without the race detector,
// and reports what it logged: counts per kind, time and heap.
func runChaos(b *bench) error {
	n := 20000
	if b.quick {
		n = 5000
	}
	args := []string{"test", "-count=1", "-run", "^TestChaos$", "-v", "./engine/"}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "FANOUT_CHAOS_N="+strconv.Itoa(n))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.WriteFile(filepath.Join(b.out, "chaos.txt"), out.Bytes(), 0o644)
	var keep []string
	for line := range strings.Lines(out.String()) {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "chaos_test.go") || strings.HasPrefix(t, "---") ||
			strings.HasPrefix(t, "ok") || strings.HasPrefix(t, "FAIL") {
			keep = append(keep, strings.TrimRight(line, "\n"))
		}
	}
	b.report.sections = append(b.report.sections, fmt.Sprintf("### chaos: %d targets, 20%% hostile, c=500\n\n`FANOUT_CHAOS_N=%d go %s`\n\n```\n%s\n```\n",
		n, n, strings.Join(args, " "), strings.Join(keep, "\n")))
	if err != nil {
		return fmt.Errorf("chaos test: %v (see bench/out/chaos.txt)", err)
	}
	return nil
}
