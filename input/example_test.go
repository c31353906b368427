package input_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fanout/fanout/input"
)

// Read targets from a list: comments and blank lines are skipped, URLs are
// normalised, a bare host becomes an https URL (which fetch may fall back
// from to http), a duplicate is skipped and counted, and a line that is not a
// target is reported as an invalid one, not as an error.
func ExampleNewReader() {
	list := `# my sites
HTTP://Example.COM:80/a#top
example.org

http://example.com/a
ftp://files.example.com/
`
	r := input.NewReader(input.Options{Dedupe: true}, input.Source{Name: "list", R: strings.NewReader(list)})
	for {
		t, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if t.Invalid != "" {
			fmt.Printf("%d %q invalid: %s\n", t.Seq, t.Input, t.Invalid)
			continue
		}
		fmt.Printf("%d %s bare=%v key=%s\n", t.Seq, t.URL, t.Bare, t.HostKey)
	}
	fmt.Println("duplicates:", r.Duplicates())
	// Output:
	// 0 http://example.com/a bare=false key=example.com:80
	// 1 https://example.org/ bare=true key=example.org:443
	// 2 "ftp://files.example.com/" invalid: unsupported scheme "ftp"
	// duplicates: 1
}

// Parse normalises one line, with no reader around it.
func ExampleParse() {
	t := input.Parse("https://BÜCHER.example/Straße?q=1")
	fmt.Println(t.URL, t.HostKey)
	// Output:
	// https://xn--bcher-kva.example/Stra%C3%9Fe?q=1 xn--bcher-kva.example:443
}

// Targets for a slice in memory: one target per element, Seq its index,
// Input the element as given, so each result maps back to its element;
// a blank one is invalid rather than skipped, and nothing is deduplicated.
func ExampleTargets() {
	urls := []string{"HTTP://Example.COM/a", "", " example.org ", "#notes", "HTTP://Example.COM/a"}
	for _, t := range input.Targets(urls) {
		if t.Invalid != "" {
			fmt.Printf("%d %q invalid: %s\n", t.Seq, t.Input, t.Invalid)
			continue
		}
		fmt.Printf("%d %q %s bare=%v\n", t.Seq, t.Input, t.URL, t.Bare)
	}
	// Output:
	// 0 "HTTP://Example.COM/a" http://example.com/a bare=false
	// 1 "" invalid: blank: no url given
	// 2 " example.org " https://example.org/ bare=true
	// 3 "#notes" invalid: empty host
	// 4 "HTTP://Example.COM/a" http://example.com/a bare=false
}
