package simweb

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestDeterminism(t *testing.T) {
	a := start(t, Config{Seed: 42})
	b := start(t, Config{Seed: 42})
	other := start(t, Config{Seed: 43})
	ca, cb, co := client(t, a), client(t, b), client(t, other)
	differ := 0
	for i := range 40 {
		host := fmt.Sprintf("h%d.sim", i%5)
		path := fmt.Sprintf("/mix?seed=%d", i)
		ra, _ := get(t, ca, a.URL(host, path))
		rb, _ := get(t, cb, b.URL(host, path))
		ro, _ := get(t, co, other.URL(host, path))
		if ra.StatusCode != rb.StatusCode {
			t.Errorf("%s%s: seed 42 gave %d then %d", host, path, ra.StatusCode, rb.StatusCode)
		}
		if ra.StatusCode != ro.StatusCode {
			differ++
		}
		// The same URL asked twice of the same server: same answer.
		if again, _ := get(t, ca, a.URL(host, path)); again.StatusCode != ra.StatusCode {
			t.Errorf("%s%s: %d then %d", host, path, ra.StatusCode, again.StatusCode)
		}
	}
	if differ == 0 {
		t.Error("seeds 42 and 43 gave identical /mix statuses for 40 URLs")
	}
	var lats []string
	for i := range 5 {
		path := fmt.Sprintf("/latency/lognormal?median=2ms&sigma=1&n=%d", i)
		ra, _ := get(t, ca, a.URL("h1.sim", path))
		rb, _ := get(t, cb, b.URL("h1.sim", path))
		la, lb := ra.Header.Get("X-Simweb-Latency"), rb.Header.Get("X-Simweb-Latency")
		if la == "" || la != lb {
			t.Errorf("%s: latency %q vs %q", path, la, lb)
		}
		lats = append(lats, la)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(lats)))) < 2 {
		t.Errorf("five URLs all waited %v", lats)
	}
}

func TestMixDistribution(t *testing.T) {
	counts := map[int]int{}
	const n = 20000
	for i := range n {
		counts[mixStatus(1, "h1.sim", "/mix", fmt.Sprintf("seed=%d", i))]++
	}
	for i, code := range mixStatuses {
		got, want := float64(counts[code])/n, mixWeights[i]/100
		if got < want*0.8-0.005 || got > want*1.2+0.005 {
			t.Errorf("status %d: share %.3f, want about %.3f", code, got, want)
		}
	}
}

func TestProfiles(t *testing.T) {
	seen := map[string]int{}
	for i := range 2000 {
		h := fmt.Sprintf("h%d.sim", i)
		p := ProfileFor(9, h)
		if p != ProfileFor(9, h) {
			t.Fatalf("%s: profile not deterministic", h)
		}
		seen[p.Name]++
	}
	for _, p := range profiles {
		if seen[p.Name] == 0 {
			t.Errorf("profile %s never chosen over 2000 hosts: %v", p.Name, seen)
		}
	}
	s := start(t, Config{Seed: 9})
	c := client(t, s)
	allowed := []int{200, 301, 404, 500, 503, 429}
	for i := range 20 {
		resp, body := get(t, c, s.URL(fmt.Sprintf("h%d.sim", i), fmt.Sprintf("/page/%d", i)))
		if !slices.Contains(allowed, resp.StatusCode) {
			t.Errorf("/page/%d: status %d", i, resp.StatusCode)
		}
		if resp.StatusCode == 200 && !strings.Contains(string(body), fmt.Sprintf("<title>h%d.sim /page/%d</title>", i, i)) {
			t.Errorf("/page/%d: title missing in %q", i, body[:100])
		}
	}
}
