// Package prune removes from a repository the data no snapshot needs, and
// rewrites packs that are mostly unused. `cairn prune` and
// `cairn forget --prune` call Run.
//
// # What is kept
//
// A blob is used when a snapshot present in the repository reaches it:
// the snapshot's root tree, every subtree below it, and every data blob a
// file names. Each pack present in storage is then one of:
//
//   - in no index segment (an orphan): left alone while younger than the
//     grace period, deleted after;
//   - indexed, none of its blobs used: likewise, left alone while young,
//     deleted after;
//   - indexed and fully used: kept;
//   - indexed and partly used: kept while young; when older, repacked if
//     it is among the least used packs and the repository holds more
//     unused bytes than Options.MaxUnused percent of its blob bytes.
//
// A blob stored in several packs is counted as used in one of them (a
// young pack first, then the most used one); its other copies are unused.
//
// # Grace period
//
// Ingests write packs first, index segments next, the snapshot last, and
// hold a shared lock meanwhile, which keeps prune out. Prune can meet a
// running ingest only when that ingest's lock went stale (no refresh for
// repo.StaleAfter, 30 minutes): its process was stopped, its machine
// slept, its storage was unreachable. Such a writer finds its lease lost
// and refuses to commit (repo.Lock), but clocks differ between hosts and a
// commit already on its way cannot be recalled. The grace period is the
// margin for those: data younger than it (by the backend's ModTime) is
// never deleted or rewritten. The default, 24 hours, is far longer than a
// lock's staleness, covers large clock differences and a laptop that
// resumes the next day, and is what kopia uses for the same purpose.
// Options.GracePeriod must be longer than repo.StaleAfter.
//
// # Order of work
//
// Prune fails closed: it deletes nothing when any listing or read fails,
// a snapshot or tree cannot be read, a used blob is in no index segment,
// an indexed pack is missing from storage or shorter than its index
// entries, or a listing looks suspiciously empty (packs but no index
// segments, packs but no snapshots). Such errors wrap ErrRefused and say
// what to run. A used blob that fails authentication while it is being
// repacked stops prune too, before anything is deleted.
//
// Otherwise, holding the exclusive lock and checking its lease before
// every step that writes or deletes:
//
//  1. Repack: the used blobs of the packs to repack are read (each one
//     authenticated and re-hashed), stored into new packs through a
//     repo.Saver, and flushed: the new packs, then an index segment
//     naming them, are durable before anything is deleted.
//  2. Compacted index: new index segments list every kept pack that was
//     indexed; the last one written lists in Supersedes every segment
//     prune read (superseded ones included). Readers ignore a segment
//     superseded by a stored one (repo.ActiveSegments), so from here on
//     the old segments no longer count.
//  3. The old segments are deleted. If one cannot be, prune stops here.
//  4. The packs no longer needed are deleted: orphans and unused packs
//     past the grace period, and the packs just repacked.
//
// A crash between any two steps leaves a valid repository: before step 2
// the old index still holds, with some new packs in it or orphaned; after
// it the new index holds and every pack it names exists; what is left
// over is removed by the next prune.
package prune
