// Package output turns fetch results into what people and programs read:
// encoders for the text, jsonl and csv formats, the accept rule that decides
// which results count as success, the end-of-run summary, the progress bar
// and the buffer that restores input order. It knows fetch.Result, not HTTP.
package output
