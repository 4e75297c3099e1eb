// Package fsmeta is the bridge between the live filesystem and tree.Node:
// ingest reads entries with it, restore writes them back with it.
//
// # Reading
//
// Stat lstats a path (never following symlinks) into a Node with every
// attribute a snapshot keeps: kind, permission bits with setuid, setgid and
// sticky, numeric owner and (cached) names, nanosecond times, size, device
// numbers, hardlink identity, symlink target and every extended attribute
// (user., trusted., security. and the POSIX ACLs under system.). FromStat
// does the same from a stat the caller already holds.
//
// OpenRead opens a regular file for its content without touching its atime
// (O_NOATIME where permitted) and without following symlinks; ReadDirNames
// lists a directory the same way. DataExtents lists a file's data regions
// with SEEK_DATA/SEEK_HOLE so holes can be stored as holes.
//
// # Writing
//
// Regular files and directories are created by the caller (they need
// content or children); Create makes every other kind: symlinks, device
// nodes, fifos and sockets. Apply then sets the metadata in the one order
// that makes it stick:
//
//  1. owner (lchown), because chown clears setuid, setgid and
//     security.capability;
//  2. extended attributes, because setting system.posix_acl_access rewrites
//     the group mode bits;
//  3. mode with setuid, setgid and sticky (not on symlinks: Linux has no
//     symlink modes);
//  4. atime and mtime in nanoseconds, because every step above changes
//     ctime and writing a file's content changes mtime;
//  5. with ApplyOptions.Flags, the inode flags of files and folders
//     (flags.go), last, because immutable and append-only forbid every
//     step above; setting them changes only the ctime.
//
// Apply must come after a file's content is written and, for a directory,
// after all of its entries are created, renamed or linked in it: each of
// those changes the directory's mtime, and a default ACL set early would be
// inherited by entries created later.
//
// Paths need not be valid UTF-8, and may be of any length: one of
// PATH_MAX bytes or more, which no system call takes, is reached through
// its parent directory, opened piece by piece (long.go). Lstat, Open,
// Mkdir, Rename, Link and the other functions named after those of
// package os do the same for ingest's and restore's own calls.
package fsmeta
