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
//   - younger than the grace period: left alone;
//   - marked for deletion (repo.Mark) by an earlier prune: its used
//     blobs, if a snapshot committed since needs any, are copied into new
//     packs; it is deleted once marked for longer than the grace period;
//   - in no index segment (an orphan): marked for deletion;
//   - indexed, none of its blobs used: marked for deletion;
//   - indexed and fully used: kept;
//   - indexed and partly used: kept; or, if it is among the least used
//     packs and the repository holds more unused bytes than
//     Options.MaxUnused percent of its blob bytes, repacked: its used
//     blobs copied into new packs, and it marked for deletion.
//
// A blob stored in several packs is counted as used in one of them (a
// pack not marked for deletion first, then a young pack, then the most
// used one); its other copies are unused.
//
// # Two phases and the grace period
//
// Ingests write packs first, index segments next, the snapshot last, and
// hold a shared lock meanwhile, which keeps prune out. Prune can meet a
// running ingest only when that ingest's lock failed: it went stale (no
// refresh for repo.StaleAfter, 30 minutes: its process was stopped, its
// machine slept, its storage was unreachable), or this host's clock is
// ahead, or someone removed it. Such a writer usually finds its lease
// lost and refuses to commit (repo.Lock), but clocks differ between hosts
// and a commit already on its way cannot be recalled: its snapshot may
// land after prune read the snapshots, and use blobs it deduplicated
// against packs that prune found unused.
//
// So prune never deletes a pack the first time it finds it unneeded. It
// marks it (a deletion mark, named by no index, read by writers), and
// writers stop relying on marked packs: an ingest stores their blobs again
// (repo.Saver.CheckPacks), and one that relied on a pack marked (or
// deleted) while it ran refuses to commit (repo/ingest looks at the marks
// and the index again before it writes its snapshot). A later prune
// deletes the pack once the mark is older than the grace period, and only
// if it is still unneeded then; what a snapshot committed meanwhile uses
// in it is copied out first. A snapshot lost to prune would have to be on
// its way, past its writer's last look at the marks, for more than a grace
// period. Data younger than the grace period (by the backend's ModTime) is
// never marked, deleted or rewritten; ages are measured on the storage's
// clock when this host's runs ahead of it. The default, 24 hours, is far
// longer than a lock's staleness, covers large clock differences and a
// laptop that resumes the next day, and is what kopia uses for the same
// purpose. Options.GracePeriod must be longer than repo.StaleAfter.
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
//  2. Mark: one deletion mark names the packs newly found unneeded.
//  3. Compacted index: new index segments list every kept pack that was
//     indexed, marked ones included; the last one written lists in
//     Supersedes every segment prune read (superseded ones included).
//     Readers ignore a segment superseded by a stored one
//     (repo.ActiveSegments), so from here on the old segments no longer
//     count.
//  4. The old segments are deleted. If one cannot be, prune stops here.
//  5. The packs marked for longer than the grace period are deleted.
//  6. The marks that name no pack left in storage are deleted, and
//     damaged ones (the packs they named are marked again, if still
//     unneeded, and wait anew).
//
// A crash between any two steps leaves a valid repository: before step 3
// the old index still holds, with some new packs in it or orphaned; after
// it the new index holds and every pack it names exists; what is left
// over is removed by the next prune.
package prune
