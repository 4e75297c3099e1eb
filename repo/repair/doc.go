// Package repair mends a damaged repository. Both repairs need the
// exclusive lock: the caller takes it.
//
// # The index
//
// Index rebuilds the index segments from the packs themselves: it lists
// every stored pack, reads its header (with IndexOptions.ReadData, the
// whole pack, verifying every blob), and writes new segments naming every
// pack that is intact, including packs no segment named before: those are
// always read whole and verified first, since besides an interrupted
// ingest's packs they are the damaged packs an earlier repair left out,
// which must stay out. The last new segment supersedes every old one, and only then are the old ones
// removed, so a crash at any point leaves a valid index (readers ignore
// superseded segments). A damaged pack is left in place, named by no
// segment, for prune to remove; the blobs in it that still verify are
// copied into new packs first. Packs that segments named but that are not
// stored are dropped. A read that fails for any reason but damage stops
// the repair before it writes anything.
//
// # Snapshots
//
// Snapshots rewrites every snapshot that lost data into a new snapshot
// without what was lost: a file whose data blobs cannot all be read is
// dropped, and so is a folder whose tree cannot be read. The new
// snapshot keeps the original's time, host, source and paths, carries
// the tag "repaired", and names the original in its Original field. The
// originals stay until they are forgotten (SnapshotsOptions.Forget does
// that at once). A snapshot that already has a repaired version is not
// repaired again, but checked again: when an ingest has since stored
// what it lost it is whole, and Forget keeps it and removes its stale
// repaired copies instead of it.
//
// Data lost from the index is not always lost for good: an ingest stores
// again every blob the index lacks, so running ingest on the same paths
// before repairing snapshots brings back every file still on disk, in
// the old snapshots too.
//
// # Lost trees
//
// Recover saves one snapshot holding the trees no snapshot refers to (a
// snapshot forgotten by mistake, an ingest killed before its snapshot),
// the topmost of them only, each stored again without what is gone from
// it, as Snapshots would; a tree a recovered snapshot already holds is
// not recovered twice.
package repair
