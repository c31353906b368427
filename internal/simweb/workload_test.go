package simweb

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func collect(t *testing.T, spec WorkloadSpec) []string {
	t.Helper()
	seq, err := Workload(spec)
	if err != nil {
		t.Fatalf("Workload(%+v): %v", spec, err)
	}
	return slices.Collect(seq)
}

func TestWorkloads(t *testing.T) {
	ports := []int{8001, 8002, 8003}
	for _, name := range WorkloadNames {
		spec := WorkloadSpec{Name: name, Seed: 5, Ports: ports}
		lines := collect(t, spec)
		if again := collect(t, spec); !slices.Equal(lines, again) {
			t.Errorf("%s: two runs differ", name)
		}
		spec.Seed = 6
		if name == "mixed" || name == "demo" {
			if other := collect(t, spec); slices.Equal(lines, other) {
				t.Errorf("%s: seeds 5 and 6 give the same lines", name)
			}
		}
		wantN := map[string]int{"demo": 2000, "manyhosts": 10000}[name]
		if wantN == 0 {
			wantN = 1000
		}
		if len(lines) != wantN {
			t.Errorf("%s: %d lines, want %d", name, len(lines), wantN)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(lines)))) != len(lines) {
			t.Errorf("%s: duplicate URLs", name)
		}
		usedPorts, hosts := map[string]bool{}, map[string]bool{}
		for _, l := range lines {
			u, err := url.Parse(l)
			if err != nil || u.Scheme != "http" || !strings.HasSuffix(u.Hostname(), ".sim") {
				t.Fatalf("%s: bad line %q (%v)", name, l, err)
			}
			usedPorts[u.Port()], hosts[u.Hostname()] = true, true
		}
		if name == "manyhosts" && (len(hosts) != 2000 || len(usedPorts) != 3) {
			t.Errorf("manyhosts: %d hosts over %d ports, want 2000 over 3", len(hosts), len(usedPorts))
		}
	}
	mixed := collect(t, WorkloadSpec{Name: "mixed", N: 5000, Ports: ports})
	faults := 0
	for _, l := range mixed {
		if !strings.Contains(l, "/ok?") {
			faults++
		}
	}
	if share := float64(faults) / 5000; share < 0.25 || share > 0.35 {
		t.Errorf("mixed: %.2f non-OK URLs, want about 0.30 (20%% faults, 10%% others)", share)
	}
	hold := collect(t, WorkloadSpec{Name: "hold", N: 3, Hold: 2 * time.Second, Ports: ports})
	if !strings.Contains(hold[0], "/delay/2s?n=0") {
		t.Errorf("hold: %q", hold[0])
	}
	if _, err := Workload(WorkloadSpec{Name: "nope", Ports: ports}); err == nil {
		t.Error("unknown workload accepted")
	}
	if _, err := Workload(WorkloadSpec{Name: "ok"}); err == nil {
		t.Error("workload without ports accepted")
	}
	var buf bytes.Buffer
	if n, err := WriteWorkload(&buf, WorkloadSpec{Name: "ok", N: 3, Ports: ports}); n != 3 || err != nil || strings.Count(buf.String(), "\n") != 3 {
		t.Errorf("WriteWorkload: %d, %v, %q", n, err, buf.String())
	}
}

// A generated workload runs against a live server: every plain URL answers.
func TestWorkloadAgainstServer(t *testing.T) {
	s := start(t, Config{Ports: 3, TLSPorts: 1})
	if got := s.ResolveArgs(); len(got) != 4 || !strings.HasPrefix(got[0], "*:") || !strings.HasSuffix(got[0], ":127.0.0.1") {
		t.Errorf("ResolveArgs = %v", got)
	}
	c := client(t, s)
	for _, tlsOn := range []bool{false, true} {
		seq, err := s.Workload(WorkloadSpec{Name: "manyhosts", N: 30, Hosts: 10, TLS: tlsOn})
		if err != nil {
			t.Fatal(err)
		}
		for line := range seq {
			if resp, _ := get(t, c, line); resp.StatusCode != 200 {
				t.Errorf("%s: %d", line, resp.StatusCode)
			}
		}
	}
	if st := s.Stats(); st.Requests != 60 || st.Hosts != 10 {
		t.Errorf("Stats = %+v, want 60 requests over 10 hosts", st)
	}
}
