package fetch

// scanTitle finds the raw bytes of the first <title> element the way the
// HTML tokenizer would, without its per-call 4 KiB buffer and token
// machinery: it walks tags up to the title, skipping quoted attribute
// values. It handles only plain markup; on anything where the tokenizer's
// rules are subtle (comments, raw-text elements such as <script>, foreign
// content such as <svg>, self-closing titles, unterminated tags) it reports ok=false and
// the caller falls back to the tokenizer. FuzzScanTitle checks that
// whenever ok is true the answer equals the tokenizer's.
func scanTitle(b []byte) (raw []byte, ok bool) {
	for i := 0; i < len(b); {
		lt := indexByteFrom(b, '<', i)
		if lt < 0 || lt+1 >= len(b) {
			return nil, false
		}
		c := b[lt+1]
		switch {
		case c == '!' || c == '?':
			if c == '!' && lt+3 < len(b) && b[lt+2] == '-' && b[lt+3] == '-' {
				return nil, false // a comment: leave its edge cases to the tokenizer
			}
			gt := indexByteFrom(b, '>', lt+2)
			if gt < 0 {
				return nil, false
			}
			i = gt + 1
		case c == '/':
			if lt+2 >= len(b) || !isASCIILetter(b[lt+2]) {
				return nil, false
			}
			name, end := readName(b, lt+2)
			if equalFoldASCII(name, "head") {
				return nil, true
			}
			gt, ok := skipTag(b, end)
			if !ok {
				return nil, false
			}
			i = gt + 1
		case isASCIILetter(c):
			name, end := readName(b, lt+1)
			gt, ok := skipTag(b, end)
			if !ok {
				return nil, false
			}
			selfClosing := b[gt-1] == '/' // as the tokenizer decides it
			switch {
			case rawTextElement(name) || foreignElement(name) || selfClosing && equalFoldASCII(name, "title"):
				return nil, false
			case equalFoldASCII(name, "title"):
				return titleText(b, gt+1)
			case equalFoldASCII(name, "body") && !selfClosing:
				return nil, true
			}
			i = gt + 1
		default:
			i = lt + 1 // "<" that starts no tag is text
		}
	}
	return nil, false
}

// titleText returns the RCDATA from start up to the matching </title>.
func titleText(b []byte, start int) ([]byte, bool) {
	for i := start; i+8 <= len(b); i++ {
		if b[i] != '<' || b[i+1] != '/' || !equalFoldASCII(b[i+2:i+7], "title") {
			continue
		}
		switch b[i+7] {
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			return b[start:i], true
		}
	}
	return nil, false // unterminated: the tokenizer decides
}

// rawTextElement reports elements whose content the tokenizer does not
// read as tags.
func rawTextElement(name []byte) bool {
	for _, n := range [...]string{"script", "style", "noscript", "textarea", "xmp",
		"iframe", "noembed", "noframes", "plaintext"} {
		if equalFoldASCII(name, n) {
			return true
		}
	}
	return false
}

// foreignElement reports the roots of SVG and MathML content, whose <title>
// is not the document's: the tokenizer skips them.
func foreignElement(name []byte) bool {
	return equalFoldASCII(name, "svg") || equalFoldASCII(name, "math")
}

// readName reads a tag name starting at i, as the tokenizer does: up to
// white space, '/' or '>'.
func readName(b []byte, i int) ([]byte, int) {
	j := i
	for j < len(b) {
		switch b[j] {
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			return b[i:j], j
		}
		j++
	}
	return b[i:j], j
}

// skipTag finds the '>' that ends a tag whose name ended at i. It follows
// the tokenizer's attribute rules exactly (x/net/html readTag): a key runs
// to white space, '/', '=' or '>' (a leading '=' belongs to the key); a
// value is quoted, or runs to white space or '>'.
func skipTag(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	for {
		if i >= len(b) {
			return 0, false
		}
		if b[i] == '>' {
			return i, true
		}
		for start := i; i < len(b); i++ {
			c := b[i]
			if c == '=' && i == start {
				continue
			}
			if c == '=' || c == '/' || c == '>' || isSpace(c) {
				break
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '/':
			i++
		case c == '=':
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return 0, false
			}
			switch q := b[i]; q {
			case '>':
			case '\'', '"':
				end := indexByteFrom(b, q, i+1)
				if end < 0 {
					return 0, false
				}
				i = end + 1
			default:
				for i++; i < len(b) && b[i] != '>'; i++ {
					if isSpace(b[i]) {
						i++
						break
					}
				}
			}
		}
		i = skipSpace(b, i)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func indexByteFrom(b []byte, c byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// equalFoldASCII compares b with the lower-case ASCII word w.
func equalFoldASCII(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
