package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The browser test opens a generated report in Debian's headless Chromium:
// the page must load with no console message at all (the report has no
// script, and its Content-Security-Policy turns any attempt to load
// something from elsewhere into a console message), the charts must be in
// the DOM, and a screenshot is taken. FANOUT_REPORT_SCREENSHOT=path copies
// the screenshot there (the README's docs/report.png is made that way).

// chromiumPath finds the browser, skipping the test when it is missing
// outside CI and failing it in CI, where .ci/run installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("chromium is not installed (apt-get install chromium); CI requires it")
	}
	t.Fatal("CI is set but chromium is not installed: .ci/run should install it")
	return ""
}

// runChromium opens file in a fresh headless profile with extra flags and
// returns its stdout and stderr.
func runChromium(t *testing.T, bin, file string, extra ...string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}
	args = append(args, extra...)
	args = append(args, "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(extra, " "), err, tail(errb.String(), 3000))
	}
	return out.Bytes(), errb.Bytes()
}

// consoleLine matches Chromium's log line for a console message, from a
// script or from the browser itself (a CSP violation, a failed load).
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(\]].*$`)

func consoleMessages(stderr []byte) []string {
	var msgs []string
	for _, m := range consoleLine.FindAll(stderr, -1) {
		msgs = append(msgs, string(m))
	}
	return msgs
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func TestBrowserOpensReport(t *testing.T) {
	bin := chromiumPath(t)
	dir := t.TempDir()

	// The console check must be able to fail: a page with a script error
	// and a blocked load has to show up.
	probe := filepath.Join(dir, "probe.html")
	writeFile(t, probe, `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="img-src data:"></head>`+
		`<body><img src="http://127.0.0.1:1/x.png"><script>console.error("fanout-probe"); undefinedFn();</script></body></html>`)
	_, perr := runChromium(t, bin, probe, "--dump-dom")
	if got := consoleMessages(perr); len(got) < 2 {
		t.Fatalf("probe page: want console messages for the script error and the blocked image, got %q", got)
	}

	rep, err := Build(RunInfo{ID: "demo-2026-03-14", Title: "Example run: 20,000 generated results over 400 hosts", Source: "results.jsonl",
		Args: []string{"fanout", "-i", "urls.txt", "-c", "200", "--per-host", "4"}}, synth(20_000, 400, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	dom, stderr := runChromium(t, bin, page, "--dump-dom")
	if msgs := consoleMessages(stderr); len(msgs) > 0 {
		t.Errorf("console messages while loading the report:\n%s", strings.Join(msgs, "\n"))
	}
	d := string(dom)
	if n := strings.Count(d, "<svg"); n < 4 {
		t.Errorf("DOM has %d <svg> elements, want at least 4 (status, error kinds, latency, waterfall)", n)
	}
	for _, want := range []string{`id="headline"`, `id="latency"`, `id="slowest"`, `id="errors"`, `id="hosts"`, "<rect", "p99"} {
		if !strings.Contains(d, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}
	if strings.Contains(d, "<script") {
		t.Errorf("DOM holds a <script> element: a string from the network was not escaped")
	}

	shot := filepath.Join(dir, "report.png")
	_, stderr = runChromium(t, bin, page, "--hide-scrollbars", "--window-size=1280,2000", "--screenshot="+shot)
	if msgs := consoleMessages(stderr); len(msgs) > 0 {
		t.Errorf("console messages while taking the screenshot:\n%s", strings.Join(msgs, "\n"))
	}
	checkScreenshot(t, shot)
	if dst := os.Getenv("FANOUT_REPORT_SCREENSHOT"); dst != "" {
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot copied to %s (%d bytes)", dst, len(b))
	}
}

// checkScreenshot decodes the PNG and checks it has the window's size and
// is not blank: a page that failed to render is one flat colour.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("screenshot has %d distinct colours: the page looks blank", len(colours))
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
