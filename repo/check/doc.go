// Package check verifies a repository and says what is wrong, where, and
// what depends on it.
//
// # What is checked
//
// Structure, always: every index segment opens and decodes; every pack an
// index segment names exists with the size its entries imply, and its
// header, read from storage, lists exactly those entries; every snapshot
// object opens; every tree of every snapshot loads and decodes; every blob
// a tree needs is indexed in a pack that is not known to be damaged.
//
// Data, with Options.ReadData or a Subset: each selected pack is read
// whole, its BLAKE3 hash compared with its name, and every blob in it
// decrypted, decompressed and hashed again to its ID.
//
// A pack no index segment names that snapshots need a blob of is read
// whole too, whatever the options: it is an interrupted ingest's pack
// (intact: repair index indexes it) or one repair index --read-data left
// out as damaged (its lost blobs make the snapshots that need them lose
// data: repair snapshots, then forgetting the originals). Such packs are
// rare, and only reading them tells the two apart.
//
// Check reads the repository itself, never the local caches: index
// segments, pack headers and snapshot objects are loaded from storage
// (under backends.Uncached, which the metadata cache of S3 repositories
// passes through), and so is every pack read whole. Only the tree walk
// reads each tree blob from a local copy of its pack first, when there is
// one and the blob opens: a tree pack's stored bytes are checked with the
// other packs, by ReadData.
//
// # Problems
//
// Every problem is reported once, as one Problem naming the object at
// fault: a pack, an index segment, a snapshot; blobs stored nowhere at
// all make one problem between them.
// A problem that makes data unreadable lists every snapshot and path that
// depends on that data (Affected): files that need a lost data blob, and
// folders whose tree is lost, and, for a snapshot repair snapshots has
// rewritten already, the copy it wrote (Affected.RepairedAs): the original
// is only kept until forgotten, so the fix for it is --forget. Problems
// carry the Fix that repairs them; Result.Hint puts those in order.
//
// A read the storage fails (an outage, a refused or cut request, after the
// retries) is no damage: the object is reported Unreadable, with no repair
// and no paths lost, and the hint is to run check again. Without every
// index segment nothing can be judged, so an unreadable one stops the
// check with an error.
//
// Notices are findings that need no repair: packs no index segment names
// (left by an interrupted ingest or prune, or an ingest still running), blobs stored
// twice, superseded index segments still stored, repaired copies of
// snapshots that are whole again. An interrupted ingest leaves a
// repository that checks without errors.
package check
