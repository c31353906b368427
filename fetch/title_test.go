package fetch

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTitle(t *testing.T) {
	t.Parallel()
	longMeta := `<meta name="description" content="` + strings.Repeat("a", 1100) + `">`
	tests := []struct {
		name, body, ct, want string
	}{
		{"simple", "<html><head><title>Hi</title></head></html>", "text/html", "Hi"},
		{"whitespace", "<title>\n  a \t b\r\n c  </title>", "", "a b c"},
		{"entities", "<title>Tom &amp; Jerry &eacute;&#x41;</title>", "text/html", "Tom & Jerry éA"},
		{"upper case tag", "<TITLE>Loud</TITLE>", "text/html", "Loud"},
		{"attributes", `<title lang="en">With attrs</title>`, "text/html", "With attrs"},
		{"first only", "<title>one</title><title>two</title>", "text/html", "one"},
		{"empty", "<title></title>", "text/html", ""},
		{"none", "<html><head></head><body>x</body></html>", "text/html", ""},
		{"after body", "<html><body><svg><title>icon</title></svg></body>", "text/html", ""},
		{"svg before title, no body tag", "<svg><title>icon</title></svg><title>Real</title>", "text/html", "Real"},
		{"svg in head", "<html><head><svg><title>icon</title></svg><title>Real</title></head>", "text/html", "Real"},
		{"nested svg in head", "<head><svg><svg><title>a</title></svg><title>b</title></SVG><title>Real</title>", "text/html", "Real"},
		{"math in head", "<head><math><title>m</title></math><title>Real</title></head>", "text/html", "Real"},
		{"self-closing svg", "<head><svg/><title>Real</title></head>", "text/html", "Real"},
		{"unclosed svg", "<head><svg><title>icon</title>", "text/html", ""},
		{"after head end", "<head></head><title>late</title>", "text/html", ""},
		{"in comment", "<!-- <title>no</title> --><title>yes</title>", "text/html", "yes"},
		{"in script", "<script>var s='<title>no</title>'</script><title>yes</title>", "text/html", "yes"},
		{"unterminated", "<title>cut off", "text/html", "cut off"},
		{"utf-8", "<meta charset=utf-8><title>Café – ünïcode</title>", "text/html", "Café – ünïcode"},
		{"undeclared utf-8", "<title>Café</title>", "text/html", "Café"},
		{"windows-1252 via meta", "<meta charset=\"windows-1252\"><title>Caf\xe9 \x93q\x94</title>", "text/html", "Café “q”"},
		{"windows-1252 via header", "<title>Caf\xe9</title>", "text/html; charset=windows-1252", "Café"},
		{"latin1 via http-equiv", `<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><title>Stra` + "\xdf" + `e</title>`, "", "Straße"},
		{"shift_jis via header", "<title>\x93\xfa\x96\x7b</title>", "text/html; charset=shift_jis", "日本"},
		// 7-bit: the kanji are ASCII letters between ESC $ B and ESC ( B.
		{"iso-2022-jp via header", "<title>\x1b$BF|K\\8l\x1b(B title</title>", "text/html; charset=iso-2022-jp", "日本語 title"},
		{"iso-2022-jp via meta", "<meta charset=\"iso-2022-jp\"><title>\x1b$BF|K\\\x1b(B</title>", "text/html", "日本"},
		{"escape without a charset", "<title>a\x1bb</title>", "text/html", "ab"},
		// Past the first 1024 bytes, where charset's own UTF-8 guess looks.
		{"undeclared utf-8 after a script's charset", `<head><script charset="utf-8" src="a.js"></script>` + longMeta + "<title>Café</title>", "text/html", "Café"},
		{"undeclared utf-8 after a link's charset", `<head><link rel=stylesheet charset=UTF-8 href=a.css>` + longMeta + "<title>Café</title>", "text/html", "Café"},
		{"windows-1252 via meta, title far", `<head><META Charset="windows-1252">` + longMeta + "<title>Caf\xc3\xa9</title>", "text/html", "CafÃ©"},
		{"latin1 via http-equiv, title far", `<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">` + longMeta + "<title>Caf\xc3\xa9</title>", "", "CafÃ©"},
		// Headers mime.ParseMediaType refuses, whose charset browsers take.
		{"charset before a bad parameter", "<title>\xcf\xf0\xe8\xe2\xe5\xf2</title>", "text/html; charset=windows-1251; foo", "Привет"},
		{"charset in a header sent twice", "<title>\xcf\xf0\xe8\xe2\xe5\xf2</title>", "text/html, text/html; charset=windows-1251", "Привет"},
		{"two charsets in a bad header", "<title>\xcf\xf0\xe8\xe2\xe5\xf2</title>", "text/html; charset=windows-1251; charset=koi8-r; x", "Привет"},
		{"bad header without a charset", "<title>Caf\xe9</title>", "text/html; foo", "Café"},
		{"utf-16le bom", "\xff\xfe<\x00t\x00i\x00t\x00l\x00e\x00>\x00H\x00i\x00<\x00/\x00t\x00i\x00t\x00l\x00e\x00>\x00", "text/html", "Hi"},
		{"control chars", "<title>a\x00b\x07c</title>", "text/html", "abc"},
	}
	for _, tt := range tests {
		if got := Title([]byte(tt.body), tt.ct); got != tt.want {
			t.Errorf("%s: Title = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestTitleCut checks that a title longer than maxTitleRunes is cut to it
// with a trailing "…", on a rune boundary, and that one that fits is not
// marked.
func TestTitleCut(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, text, want string
	}{
		{"fits exactly", a(maxTitleRunes), a(maxTitleRunes)},
		{"fits, trailing white space", a(maxTitleRunes) + "  \n\t", a(maxTitleRunes)},
		{"fits, trailing control", a(maxTitleRunes) + "\x01\x02", a(maxTitleRunes)},
		{"one over", a(maxTitleRunes + 1), a(maxTitleRunes-1) + "…"},
		{"far over", a(5000), a(maxTitleRunes-1) + "…"},
		{"word after a space at the limit", a(maxTitleRunes-1) + " b", a(maxTitleRunes-1) + "…"},
		{"space at the cut", a(maxTitleRunes-2) + " bcd", a(maxTitleRunes-2) + "…"},
		{"collapsed white space counts once", "x \n\t " + a(maxTitleRunes-2), "x " + a(maxTitleRunes-2)},
		{"two-byte runes", strings.Repeat("é", 2000), strings.Repeat("é", maxTitleRunes-1) + "…"},
		{"three-byte runes", strings.Repeat("日", maxTitleRunes+1), strings.Repeat("日", maxTitleRunes-1) + "…"},
		{"four-byte runes", strings.Repeat("😀", 1500), strings.Repeat("😀", maxTitleRunes-1) + "…"},
		{"entities", strings.Repeat("&amp;", 1500), strings.Repeat("&", maxTitleRunes-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Title([]byte("<title>"+tt.text+"</title>"), "text/html; charset=utf-8")
			if got != tt.want {
				t.Errorf("Title = %d runes ending %q, want %d runes ending %q", utf8.RuneCountInString(got),
					lastRunes(got, 3), utf8.RuneCountInString(tt.want), lastRunes(tt.want, 3))
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxTitleRunes {
				t.Errorf("Title: %d runes, valid UTF-8 %v; want at most %d", utf8.RuneCountInString(got), utf8.ValidString(got), maxTitleRunes)
			}
		})
	}
}

// lastRunes returns the last n runes of s.
func lastRunes(s string, n int) string {
	r := []rune(s)
	return string(r[max(len(r)-n, 0):])
}

// TestTitleOverHTTP checks that Fetch decodes the title with the charset
// given by <meta> or by the Content-Type header.
func TestTitleOverHTTP(t *testing.T) {
	t.Parallel()
	ts := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/meta":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><head><meta charset=windows-1252><title>Na\xefve caf\xe9</title>")
		case "/header":
			w.Header().Set("Content-Type", "text/html; charset=windows-1252")
			fmt.Fprint(w, "<html><head><title>Na\xefve caf\xe9</title>")
		case "/twice":
			// A framework's header and the page's own, one after the other.
			w.Header()["Content-Type"] = []string{"text/html", "text/html; charset=windows-1251"}
			fmt.Fprint(w, "<html><head><title>\xcf\xf0\xe8\xe2\xe5\xf2</title>")
		case "/bad-param":
			w.Header().Set("Content-Type", "text/html; charset=windows-1251; foo")
			fmt.Fprint(w, "<html><head><title>\xcf\xf0\xe8\xe2\xe5\xf2</title>")
		case "/sniffed":
			w.Header()["Content-Type"] = nil // no header: the body is sniffed
			fmt.Fprint(w, "<!DOCTYPE html><title>sniffed</title>")
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"x":"<title>no</title>"}`)
		case "/long":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><head><title>"+strings.Repeat("x", 3000)+"</title>")
		}
	})
	c := newTestClient(t, nil)
	long := strings.Repeat("x", maxTitleRunes-1) + "…"
	for path, want := range map[string]string{"/meta": "Naïve café", "/header": "Naïve café", "/twice": "Привет", "/bad-param": "Привет", "/sniffed": "sniffed", "/json": "", "/long": long} {
		if r := get(c, ts.URL+path); r.Title != want {
			t.Errorf("%s: title %q, want %q", path, r.Title, want)
		}
	}
}

func FuzzTitle(f *testing.F) {
	f.Add([]byte("<title>x</title>"), "text/html")
	f.Add([]byte("<script charset=x></script><title>\x1b$BF|\x1b(B\xcf</title>"), `text/html; charset="a b"; x, text/plain;charset=iso-2022-jp`)
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		got := Title(body, ct)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		if n := utf8.RuneCountInString(got); n > maxTitleRunes {
			t.Fatalf("%d runes", n)
		}
		if strings.TrimSpace(got) != got || strings.Contains(got, "  ") {
			t.Fatalf("whitespace not collapsed: %q", got)
		}
	})
}
