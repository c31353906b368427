// Package output turns fetch results into what people and programs read:
// encoders for the text, jsonl, csv and url formats, the accept rule that decides
// which results count as success, the end-of-run summary, the progress bar
// and the buffer that restores input order. It knows fetch.Result, not HTTP.
//
// NewEncoder writes results in a format chosen by name; call Flush when done.
// Accept (ParseAccept, DefaultAccept) says which results count as success,
// Summary counts a run's results and writes the end-of-run report, and
// Reorder puts results that arrive as they complete back in input order.
// Escape makes text from the network safe to print on a terminal.
package output
