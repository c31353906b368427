package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunWritesWorkloadAndExits(t *testing.T) {
	dir := t.TempDir()
	ready, resolve, ca := filepath.Join(dir, "ready"), filepath.Join(dir, "resolve"), filepath.Join(dir, "ca.pem")
	var stdout, stderr bytes.Buffer
	args := []string{"--ports", "2", "--tls-ports", "1", "--max-lifetime", "300ms", "--workload", "ok", "--n", "5",
		"--ready-file", ready, "--resolve-file", resolve, "--ca-file", ca}
	t0 := time.Now()
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, stderr:\n%s", code, stderr.String())
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("run lasted %v with a 300ms lifetime", el)
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "http://h0.sim:") {
		t.Errorf("workload on stdout: %q", stdout.String())
	}
	got, err := os.ReadFile(ready)
	if err != nil || !strings.HasPrefix(string(got), "simweb ready pid=") || !strings.Contains(stderr.String(), string(got)) {
		t.Errorf("ready file %q (%v), stderr %q", got, err, stderr.String())
	}
	if got, _ := os.ReadFile(resolve); strings.Count(string(got), "\n") != 3 || !strings.HasPrefix(string(got), "*:") {
		t.Errorf("resolve file %q", got)
	}
	if got, _ := os.ReadFile(ca); !bytes.HasPrefix(got, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("ca file %q", got)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stdout, stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"--print-resolve"}, &stdout, &stderr) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.HasPrefix(stdout.String(), "*:") {
			t.Errorf("run = %d, stdout %q", code, stdout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"--tls"}, 2},
		{[]string{"--workload", "ok", "--print-resolve"}, 2},
		{[]string{"--addr", "0.0.0.0", "--max-lifetime", "1s"}, 1},
		{[]string{"--workload", "nope", "--max-lifetime", "1s"}, 1},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
			t.Errorf("run(%q) = %d, want %d; stderr %q", tt.args, code, tt.code, stderr.String())
		}
	}
}
