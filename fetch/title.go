package fetch

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// maxTitleRunes caps a title so one odd page cannot bloat the output.
const maxTitleRunes = 1024

// Title returns the text of the first <title> element of an HTML document,
// decoded with the page's charset (from a byte-order mark, the Content-Type
// header, a <meta> declaration in the first 1024 bytes, or a guess), with
// entities resolved, whitespace collapsed and trimmed, control characters
// dropped, and at most 1024 runes: a longer title is cut to 1023 and ends
// with "…" (U+2026). It stops at </head> or <body>, and skips
// <svg> and <math> elements, so the <title> of an SVG drawing does not count.
// It returns "" when there is none.
func Title(body []byte, contentType string) string {
	if !hasTitleTag(body) {
		return ""
	}
	// Pages in UTF-16 are not ASCII-compatible: decode them
	// whole before tokenising. Others are tokenised as bytes and only the
	// title text is decoded.
	if wideEncoding(body, contentType) {
		enc, _, _ := determineEncoding(body, contentType)
		decoded, _, err := transform.Bytes(enc.NewDecoder(), body)
		if err != nil {
			return ""
		}
		return clean(html.UnescapeString(string(rawTitle(decoded))))
	}
	raw := rawTitle(body)
	if raw == nil {
		return ""
	}
	return clean(decodeText(raw, body, contentType))
}

// hasTitleTag is a quick, allocation-free check that "<title" occurs at all
// (case-insensitively) in an ASCII-compatible or UTF-16 body.
func hasTitleTag(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '<' {
			continue
		}
		j, k := i+1, 0
		const t = "title"
		for j < len(b) && k < len(t) {
			c := b[j]
			j++
			if c == 0 {
				continue // UTF-16 high byte
			}
			if c|0x20 != t[k] {
				break
			}
			k++
		}
		if k == len(t) {
			return true
		}
	}
	return false
}

// wideEncoding reports whether the body uses a non-ASCII-compatible
// encoding (UTF-16), from its byte-order mark or Content-Type.
func wideEncoding(body []byte, contentType string) bool {
	if bytes.HasPrefix(body, []byte{0xfe, 0xff}) || bytes.HasPrefix(body, []byte{0xff, 0xfe}) {
		return true
	}
	ct := []byte(contentType)
	return containsFold(ct, "utf-16") || containsFold(ct, "ucs-2")
}

// rawTitle returns the undecoded bytes between <title> and </title>, or nil.
func rawTitle(body []byte) []byte {
	if raw, ok := scanTitle(body); ok {
		return raw
	}
	return tokenTitle(body)
}

// tokenTitle is rawTitle by the HTML tokenizer, for every case scanTitle
// leaves to it.
func tokenTitle(body []byte) []byte {
	z := html.NewTokenizer(&chunkReader{b: body})
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil
		case html.StartTagToken:
			// Names are read from Raw: TagName allocates on every call.
			switch name := tagName(z.Raw()); {
			case bytes.EqualFold(name, []byte("title")):
				// <title> is an RCDATA element: its content is one text
				// token (or nothing for an empty title).
				if z.Next() != html.TextToken {
					return []byte{}
				}
				return z.Raw()
			case bytes.EqualFold(name, []byte("body")):
				return nil
			case foreignElement(name):
				// An SVG or MathML <title> names a drawing, not the page
				// (an <svg> may come before the page's <title> when there
				// is no <body> tag): skip the element whole.
				if !skipElement(z, name) {
					return nil
				}
			}
		case html.EndTagToken:
			if bytes.EqualFold(tagName(z.Raw()), []byte("head")) {
				return nil
			}
		}
	}
}

// skipElement reads tokens up to the end tag that closes the element named
// name, whose start tag was just read, counting nested ones of that name.
// It reports false when the document ends first.
func skipElement(z *html.Tokenizer, name []byte) bool {
	name = bytes.Clone(name) // z.Raw's bytes are reused by z.Next
	for depth := 1; ; {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken:
			if bytes.EqualFold(tagName(z.Raw()), name) {
				depth++
			}
		case html.EndTagToken:
			if bytes.EqualFold(tagName(z.Raw()), name) {
				if depth--; depth == 0 {
					return true
				}
			}
		}
	}
}

// tagName returns the name in a raw start or end tag ("<Title lang=en>").
func tagName(raw []byte) []byte {
	raw = bytes.TrimPrefix(bytes.TrimPrefix(raw, []byte("<")), []byte("/"))
	for i, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\f', '\r', '/', '>':
			return raw[:i]
		}
	}
	return raw
}

// decodeText turns raw title bytes into a string with the page's charset.
// ASCII needs no decoding, which skips charset detection on most pages;
// but ISO-2022-JP is 7-bit, its kanji ASCII letters between escape
// sequences, so a title with an ESC byte is decoded all the same.
func decodeText(raw, body []byte, contentType string) string {
	ascii := true
	for _, c := range raw {
		if c >= utf8.RuneSelf || c == 0x1b {
			ascii = false
			break
		}
	}
	if ascii {
		return html.UnescapeString(string(raw))
	}
	enc, name, certain := determineEncoding(body, contentType)
	// charset falls back to windows-1252 when nothing is declared; a title
	// that is valid UTF-8 on such a page is far more likely UTF-8.
	if name == "utf-8" || (!certain && name == "windows-1252" && utf8.Valid(raw) &&
		!metaCharset(body[:min(len(body), 1024)])) {
		return html.UnescapeString(string(raw))
	}
	decoded, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		return html.UnescapeString(string(raw))
	}
	return html.UnescapeString(string(decoded))
}

// determineEncoding is charset.DetermineEncoding, given a Content-Type it
// can read. It reads the header with mime.ParseMediaType, which refuses
// the whole of it for one malformed parameter ("text/html;
// charset=windows-1251; foo") or for a header sent twice and joined
// ("text/html, text/html; charset=windows-1251"), and would then guess
// the charset from the body. Browsers take the charset from such headers
// (WHATWG's MIME type parser skips a bad parameter, and the last value
// with a charset wins), and so does this.
func determineEncoding(body []byte, contentType string) (encoding.Encoding, string, bool) {
	enc, name, certain := charset.DetermineEncoding(body, contentType)
	// Certain: a BOM, or a header it could read. The header is read again
	// only when it names a charset DetermineEncoding did not take, so that
	// the common response pays for one parse, not two.
	if certain || !containsFold([]byte(contentType), "charset") {
		return enc, name, certain
	}
	if _, _, err := mime.ParseMediaType(contentType); err == nil {
		return enc, name, certain // readable: its charset is unknown, not hidden
	}
	if cs := headerCharset(contentType); cs != "" {
		if ct := mime.FormatMediaType("text/html", map[string]string{"charset": cs}); ct != "" {
			return charset.DetermineEncoding(body, ct)
		}
	}
	return enc, name, certain
}

// headerCharset returns the charset parameter of a Content-Type that
// mime.ParseMediaType refuses: the first in each comma-separated value,
// the last value that has one. It returns "" when there is none.
func headerCharset(contentType string) string {
	cs := ""
	for _, value := range strings.Split(contentType, ",") {
		for _, param := range strings.Split(value, ";") {
			k, v, ok := strings.Cut(param, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "charset") {
				cs = strings.Trim(strings.TrimSpace(v), `"`)
				break
			}
		}
	}
	return cs
}

// metaCharset reports whether a <meta> tag in b names a charset, as the
// ones charset.DetermineEncoding reads do (<meta charset=...>, or
// http-equiv's content="...; charset=..."). The word elsewhere says
// nothing of the page's encoding: <script charset="utf-8" src=...> is
// common in the head of pages that declare none.
func metaCharset(b []byte) bool {
	for i := 0; i+len("<meta") <= len(b); i++ {
		if b[i] != '<' || !bytes.EqualFold(b[i+1:i+len("<meta")], []byte("meta")) {
			continue
		}
		tag := b[i:]
		if end := bytes.IndexByte(tag, '>'); end >= 0 {
			tag = tag[:end]
		}
		if containsFold(tag, "charset") {
			return true
		}
	}
	return false
}

// containsFold reports whether ASCII word occurs in b, ignoring case.
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}

// titleEllipsis ends a title cut at maxTitleRunes, so that a reader (jq on
// JSON Lines, a CSV cell) can tell a cut title from one that happens to be
// that long.
const titleEllipsis = "…"

// clean collapses whitespace, drops control characters and invalid UTF-8,
// trims, and caps the length at maxTitleRunes runes, the last of them
// titleEllipsis when text was cut.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*maxTitleRunes))
	space, runes := false, 0
	keep := 0 // bytes of the first maxTitleRunes-1 runes: what a cut title keeps
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r == utf8.RuneError, unicode.IsControl(r):
			continue
		}
		n := 1
		if space {
			n = 2
		}
		if runes+n > maxTitleRunes {
			// Only text still to come makes a cut: trailing white
			// space and control characters would have been dropped.
			return strings.TrimRight(b.String()[:keep], " ") + titleEllipsis
		}
		if space {
			b.WriteByte(' ')
			space = false
			if runes++; runes == maxTitleRunes-1 {
				keep = b.Len()
			}
		}
		b.WriteRune(r)
		if runes++; runes == maxTitleRunes-1 {
			keep = b.Len()
		}
	}
	return b.String()
}

// isClean reports whether s is printable ASCII with single inner spaces
// and no more than maxTitleRunes bytes: clean's common case, returned as is.
func isClean(s string) bool {
	if len(s) > maxTitleRunes || s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return s == ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || (c == ' ' && s[i-1] == ' ') {
			return false
		}
	}
	return true
}

// chunkReader hands the tokenizer small slices so it copies only what it
// consumes: the title is usually near the start of a much larger body.
type chunkReader struct{ b []byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 512)], r.b)
	r.b = r.b[n:]
	return n, nil
}
