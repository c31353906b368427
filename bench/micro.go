//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// microPackages hold the testing.B benchmarks of the per-request hot paths:
// input parsing and dedupe (input), title extraction and one fetch (fetch),
// result encoding (output), scheduling (engine, when it has benchmarks).
var microPackages = []string{"./input/", "./fetch/", "./output/", "./engine/"}

// microArgs is the go test command line the report shows.
func microArgs() []string {
	return append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "300ms", "-count", "1"}, microPackages...)
}

// runMicro runs the packages' Go benchmarks and keeps their output.
func runMicro(b *bench) error {
	args := microArgs()
	cmd := exec.Command("go", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.WriteFile(filepath.Join(b.out, "micro.txt"), out.Bytes(), 0o644)
	var keep []string
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "ok") ||
			strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "FAIL") ||
			strings.Contains(line, "no test files") || strings.HasPrefix(line, "?") {
			keep = append(keep, strings.TrimRight(line, "\n"))
		}
	}
	b.report.addMicro("go "+strings.Join(args, " "), keep)
	if err != nil {
		return fmt.Errorf("go test -bench: %v (see bench/out/micro.txt)", err)
	}
	return nil
}
