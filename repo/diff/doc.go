// Package diff compares two snapshots, two folders inside snapshots, or a
// snapshot folder and the live filesystem, and reports what changed with
// restic's markers.
//
// # Walking
//
// Both sides are walked together in name order (tree blobs are sorted by
// name). A folder whose tree blob ID is the same on both sides holds the
// same entries, so it is skipped without being loaded: comparing two
// snapshots costs what changed between them, not their size. A folder
// that exists on one side only is walked so that every entry in it is
// reported. Changes come in tree order: a folder before what is inside it.
//
// # Kinds of change
//
// Each change has a Kind, printed with restic's marker:
//
//	Added         "+"  only on the new side
//	Removed       "-"  only on the old side
//	Modified      "M"  same kind, different content
//	TypeChanged   "T"  a file became a folder, a symlink a file, ...
//	MetadataOnly  "U"  same content, other metadata (with Options.Metadata)
//
// Content is a file's chunk list, a symlink's target and a device node's
// major and minor numbers; a folder's content is its entries, which are
// reported one by one, so a folder is never Modified. Metadata is the
// permission bits, numeric owner and group, mtime and extended attributes
// (Change.MetaChanged names those that differ). Access and change times,
// inode numbers and link counts are not compared: they change without
// anyone changing the file.
//
// # Paths and sizes
//
// Change.Path is relative to the compared folders, with a leading "/":
// comparing two snapshots' roots it is the path `cairn ls` prints,
// comparing folders (SNAP:PATH, or a folder against the live filesystem)
// it starts below them. When a side is not a folder, the two entries are
// compared under "/" and the new entry's name.
//
// The Summary's byte counts are file sizes and mean the same between
// snapshots and against the live filesystem: AddedBytes and RemovedBytes
// the regular files added or removed entirely, GrownBytes and ShrunkBytes
// the size changes of the modified files.
//
// # Against the live filesystem
//
// Live reads the live side with the same code ingest uses (fsmeta), so
// both sides hold the same fields. File content is not read or hashed: a
// file is Modified when its size or mtime differs, which is how ingest
// decides to read a file again. Live paths ingest would not have taken are
// not reported as added: those the snapshot's exclude patterns leave out,
// and, in folders above the ingested paths, all but the way down to them.
// A live path that cannot be read is warned about and reported neither
// added nor removed.
package diff
