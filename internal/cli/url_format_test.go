package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// lines returns the lines of s, without their newlines.
func lines(s string) []string {
	var ls []string
	for l := range strings.Lines(s) {
		ls = append(ls, strings.TrimSuffix(l, "\n"))
	}
	return ls
}

// TestURLFormatResumes: -f url is recorded and continued like the other
// formats: a resumed run's file holds each target's URL once.
func TestURLFormatResumes(t *testing.T) {
	rc := newSlowRecording(t, 40, "-f", "url")
	rc.interrupted(t, 500*time.Millisecond)
	if code, _, errOut := runCLI(t, "", rc.args...); code != ExitOK {
		t.Fatalf("rerun: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(rc.out)
	if err != nil {
		t.Fatal(err)
	}
	got := lines(string(b))
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(rc.targets)); !slices.Equal(got, want) {
		t.Errorf("after the resume, %d lines:\n%s\nwant each of the %d targets once", len(got), b, len(want))
	}
	if code, shown, errOut := runCLI(t, "", "show", "--db", rc.db, "-f", "url", "1"); code != ExitOK || fmt.Sprint(lines(shown)) != fmt.Sprint(rc.targets) {
		t.Errorf("show -f url: exit %d, %q: %s", code, shown, errOut)
	}
}
