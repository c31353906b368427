package output

import "testing"

// FuzzParseAccept checks that --accept parsing never panics, and that an
// accepted rule's canonical form (String) parses back to a rule accepting
// exactly the same status codes.
func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{
		"200", "200..300", "200..=299", "..=204", "..204", "300..", "200, 301 ..= 399",
		"..", "200..=", "999", "1000", "-1", "200..100", "0..=0", ",", " 2 0 0 ", "200..=+300",
		"\t200\t..\t=\t204", "200...300", "200..==300",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAccept(s)
		if err != nil {
			return
		}
		canon := a.String()
		b, err := ParseAccept(canon)
		if err != nil {
			t.Fatalf("ParseAccept(%q) ok, but its String %q does not parse: %v", s, canon, err)
		}
		if b.String() != canon {
			t.Fatalf("ParseAccept(%q).String() = %q, which re-parses to %q", s, canon, b.String())
		}
		for code := -1; code <= maxStatus+1; code++ {
			if a.Status(code) != b.Status(code) {
				t.Fatalf("ParseAccept(%q) and its String %q disagree on %d: %v vs %v",
					s, canon, code, a.Status(code), b.Status(code))
			}
		}
		if a.Status(0) || a.Status(minStatus-1) || a.Status(maxStatus+1) {
			t.Fatalf("ParseAccept(%q) accepts a status outside %d..%d", s, minStatus, maxStatus)
		}
	})
}
