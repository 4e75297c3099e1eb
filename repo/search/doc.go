// Package search finds entries by name across many snapshots, and the
// distinct versions of one path, fast enough for a terminal UI over a
// repository of a thousand snapshots.
//
// # Paths
//
// Paths are those `cairn ls` prints: slash-separated, with a leading "/",
// from the snapshot's root tree, which holds each ingested path under its
// full name (an ingest of /home/alice/src stores /home/alice/src/main.go).
// A path that Find reports can therefore be given as it is to Versions, to
// `cairn ls SNAP:PATH`, `cairn diff SNAP:PATH ...` and
// `cairn restore SNAP:PATH` (or, relative to the snapshot root,
// `--include`).
//
// # Patterns
//
// Find's pattern is a shell glob (*, ?, [...]) matched against each
// entry's name. A pattern holding a "/" is matched against the whole path
// component by component instead, with "**" for any number of folders; it
// may match at any depth unless it starts with "/" ("src/*.go" finds every
// .go file directly in a folder named src; "/etc/*.conf" only those in
// /etc). IgnoreCase compares in lower case.
//
// # Speed
//
// Snapshots of one source share most of their trees: a folder nothing
// changed in has the same tree blob ID in every snapshot. Find walks all
// the snapshots at once, path by path, and loads each distinct tree at a
// path once, however many snapshots hold it there, so searching a thousand
// snapshots costs roughly what the changed folders cost, not a thousand
// walks. The trees of the next folders are loaded ahead in parallel, and
// each path is emitted, with the snapshots that hold it, as soon as the
// walk reaches it: memory grows with the folders open on the way down,
// not with the number of matches.
// Versions loads only the path's ancestors, each distinct tree once.
package search
