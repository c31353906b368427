package output

import (
	"strings"
	"testing"

	"github.com/fanout/fanout/fetch"
)

func TestParseAccept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec   string
		yes    []int
		no     []int
		canon  string
		errSub string
	}{
		{spec: "200", yes: []int{200}, no: []int{199, 201, 0}, canon: "200"},
		{spec: "200..300", yes: []int{200, 250, 299}, no: []int{199, 300}, canon: "200..300"},
		{spec: "200..=299", yes: []int{200, 299}, no: []int{199, 300}, canon: "200..=299"},
		{spec: "..=204", yes: []int{100, 200, 204}, no: []int{0, 99, 205}, canon: "..=204"},
		{spec: "100..", yes: []int{100, 999}, no: []int{0, 99}, canon: "100.."},
		{spec: "..204", yes: []int{100, 203}, no: []int{204}, canon: "..204"},
		{spec: "300..", yes: []int{300, 404, 599, 999}, no: []int{299, 1000}, canon: "300.."},
		{spec: "200, 301..=302 ,404", yes: []int{200, 301, 302, 404}, no: []int{201, 303, 403}, canon: "200,301..=302,404"},
		{spec: " 200 ..= 204 ", yes: []int{200, 204}, no: []int{205}, canon: "200..=204"},
		{spec: "200..= 204", yes: []int{204}, no: []int{205}, canon: "200..=204"},
		{spec: "200.. =204", yes: []int{204}, no: []int{205}, canon: "200..=204"},
		{spec: "200..=200", yes: []int{200}, no: []int{201}, canon: "200..=200"},
		{spec: "2x0", errSub: `--accept: bad range "2x0"`},
		{spec: "2xx", errSub: `bad range "2xx": want a status 100-999 (200), a range (200..300 ends before 300, 200..=299 includes it), comma-separated`},
		{spec: "", errSub: "--accept: empty"},
		{spec: "   ", errSub: "--accept: empty"},
		{spec: "200,,300", errSub: `bad range ""`},
		{spec: "200,", errSub: `bad range ""`},
		{spec: "..", errSub: `bad range ".."`},
		{spec: "200..=", errSub: `bad range "200..="`},
		{spec: "300..200", errSub: `bad range "300..200": empty range`},
		{spec: "200..200", errSub: `bad range "200..200": empty range`},
		{spec: "1000", errSub: `bad range "1000"`},
		{spec: "-1", errSub: `bad range "-1"`},
		// Statuses below 100 cannot occur; the message asks for 100-999.
		{spec: "0..", errSub: `bad range "0..": want a status 100-999`},
		{spec: "0", errSub: `bad range "0": want a status 100-999`},
		{spec: "99", errSub: `bad range "99": want a status 100-999`},
		{spec: "099", errSub: `bad range "099": want a status 100-999`},
		{spec: "..=50", errSub: `bad range "..=50": want a status 100-999`},
		{spec: "0..=0", errSub: `bad range "0..=0": want a status 100-999`},
		{spec: "..100", errSub: `bad range "..100": empty range`},
		{spec: "200...300", errSub: `bad range "200...300"`},
		{spec: "200..=2.5", errSub: `bad range "200..=2.5"`},
		{spec: "2 00", errSub: `bad range "2 00"`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			a, err := ParseAccept(tt.spec)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("ParseAccept(%q) error = %v, want one containing %q", tt.spec, err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAccept(%q): %v", tt.spec, err)
			}
			for _, c := range tt.yes {
				if !a.Status(c) {
					t.Errorf("ParseAccept(%q).Status(%d) = false, want true", tt.spec, c)
				}
			}
			for _, c := range tt.no {
				if a.Status(c) {
					t.Errorf("ParseAccept(%q).Status(%d) = true, want false", tt.spec, c)
				}
			}
			if got := a.String(); got != tt.canon {
				t.Errorf("ParseAccept(%q).String() = %q, want %q", tt.spec, got, tt.canon)
			}
		})
	}
}

func TestDefaultAccept(t *testing.T) {
	t.Parallel()
	for _, a := range []Accept{DefaultAccept(), {}} {
		for c := -1; c <= 1000; c++ {
			want := c >= 200 && c <= 399
			if got := a.Status(c); got != want {
				t.Fatalf("Accept(%q).Status(%d) = %v, want %v", a, c, got, want)
			}
		}
		if got := a.String(); got != "200..=399" {
			t.Errorf("String() = %q, want 200..=399", got)
		}
	}
}

func TestAcceptOK(t *testing.T) {
	t.Parallel()
	a := DefaultAccept()
	tests := []struct {
		name string
		r    fetch.Result
		want bool
	}{
		{"200", fetch.Result{Status: 200}, true},
		{"404", fetch.Result{Status: 404}, false},
		{"no response", fetch.Result{Error: &fetch.Error{Kind: fetch.KindDNS}}, false},
		// DECISIONS.md: an error is never accepted, whatever the status.
		{"200 with protocol error", fetch.Result{Status: 200, Error: &fetch.Error{Kind: fetch.KindProtocol}}, false},
		{"301 too many redirects", fetch.Result{Status: 301, Error: &fetch.Error{Kind: fetch.KindTooManyRedirects}}, false},
	}
	for _, tt := range tests {
		if got := a.OK(&tt.r); got != tt.want {
			t.Errorf("%s: OK = %v, want %v", tt.name, got, tt.want)
		}
	}
}
