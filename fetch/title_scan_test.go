package fetch

import (
	"bytes"
	"testing"
)

func TestScanTitleAgreesWithTokenizer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		doc    string
		wantOK bool
	}{
		{`<html><head><title>Hello</title></head>`, true},
		{`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><TITLE lang=en>A &amp; B</TITLE>`, true},
		{`<head><meta content="<title>fake</title>"><title>real</title>`, true},
		{`<head></head><title>after head</title>`, true},
		{`<body><title>in body</title>`, true},
		{`<title></title>`, true},
		{`<title>a</title >`, true},
		{`<title>x</titlex> y</title>`, true},
		{`<head><!-- <title>no</title> --><title>yes</title>`, false},
		{`<script>"<title>no</title>"</script><title>yes</title>`, false},
		{`<title/>x</title>`, false},
		{`<title>unterminated`, false},
		{`<meta content="unterminated><title>x</title>`, false},
		{`a < b <title>t</title>`, true},
		{`<svg><title>icon</title></svg><title>t</title>`, false},
		{`<head><MATH><title>m</title></MATH><title>t</title>`, false},
	} {
		raw, ok := scanTitle([]byte(tc.doc))
		if ok != tc.wantOK {
			t.Errorf("%q: ok = %v, want %v", tc.doc, ok, tc.wantOK)
		}
		if want := tokenTitle([]byte(tc.doc)); ok && (!bytes.Equal(raw, want) || (raw == nil) != (want == nil)) {
			t.Errorf("%q: scan %q, tokenizer %q", tc.doc, raw, want)
		}
	}
}

// FuzzScanTitle checks the fast path against the tokenizer: whenever
// scanTitle is sure, it must agree exactly.
func FuzzScanTitle(f *testing.F) {
	for _, s := range []string{
		`<html><head><title>Hello</title></head>`,
		`<head><meta content="<title>fake</title>"><title>real</title>`,
		`<title a='x>' b="y>">t</title>`,
		`</p><title>t</title>`,
		`<!doctype html><?xml x?><title>t</title>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		raw, ok := scanTitle(doc)
		if !ok {
			return
		}
		want := tokenTitle(doc)
		if !bytes.Equal(raw, want) || (raw == nil) != (want == nil) {
			t.Fatalf("%q: scan %q (nil %v), tokenizer %q (nil %v)", doc, raw, raw == nil, want, want == nil)
		}
	})
}
