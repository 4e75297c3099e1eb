package repotest

import (
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Damage describes what a damage function did.
type Damage struct {
	What   string // "missing pack", "truncated pack", ...
	Object string // the object removed, changed or added: "data/ab/…", "index/…", "snapshots/…"
	// Pack is the pack damaged, or the pack added by AddUnreferencedPack
	// and DuplicatePack; zero when no pack is concerned.
	Pack id.ID
	// Packs are all the packs concerned: those a removed segment named,
	// or the original and the copy of DuplicatePack.
	Packs []id.ID
	// Snapshot is the snapshot damaged (DamageSnapshot) or written with a
	// dangling reference (DanglingBlob).
	Snapshot id.ID
	// Lost are the blobs no longer readable from any pack, or, after
	// RemoveSegmentOf, no longer named by any index segment.
	Lost []id.ID
	// Affected lists per snapshot the absolute paths in it that depend on
	// a lost blob, sorted: files that need a lost data blob, and folders
	// whose tree is lost ("/" for the root). What is inside a lost folder
	// is not listed.
	Affected map[id.ID][]string
}

// Paths returns every affected path of every snapshot, sorted, once each.
func (d *Damage) Paths() []string {
	seen := map[string]bool{}
	var out []string
	for _, ps := range d.Affected {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// LostSet returns Lost as a set.
func (d *Damage) LostSet() map[id.ID]bool {
	out := map[id.ID]bool{}
	for _, b := range d.Lost {
		out[b] = true
	}
	return out
}

// view is the repository's index as its stored, live segments say.
type view struct {
	segs  map[id.ID]*repo.Segment // live segments
	packs map[id.ID]index.Pack    // indexed packs
	locs  map[id.ID][]id.ID       // blob -> packs holding it
}

func (f *Fixture) view() *view {
	f.tb.Helper()
	var sids []id.ID
	f.check(f.Backend.List(f.ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		if err == nil {
			sids = append(sids, sid)
		}
		return nil
	}))
	all := map[id.ID]*repo.Segment{}
	superseded := map[id.ID]bool{}
	for _, sid := range sids {
		s, err := f.Repo.LoadSegment(f.ctx, sid)
		f.check(err)
		all[sid] = s
		for _, x := range s.Supersedes {
			superseded[x] = true
		}
	}
	v := &view{segs: map[id.ID]*repo.Segment{}, packs: map[id.ID]index.Pack{}, locs: map[id.ID][]id.ID{}}
	for sid, s := range all {
		if superseded[sid] {
			continue
		}
		v.segs[sid] = s
		for _, p := range s.Packs {
			if _, dup := v.packs[p.ID]; dup {
				continue
			}
			v.packs[p.ID] = p
			for _, b := range p.Blobs {
				v.locs[b.ID] = append(v.locs[b.ID], p.ID)
			}
		}
	}
	return v
}

// lost returns the blobs every indexed copy of which is bad.
func (v *view) lost(bad func(pid id.ID, b index.Blob) bool) []id.ID {
	badCopies := map[id.ID]int{}
	for pid, p := range v.packs {
		for _, b := range p.Blobs {
			if bad(pid, b) {
				badCopies[b.ID]++
			}
		}
	}
	var out []id.ID
	for bid, n := range badCopies {
		if n == len(v.locs[bid]) {
			out = append(out, bid)
		}
	}
	sortIDs(out)
	return out
}

func sortIDs(ids []id.ID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}

// affected lists per snapshot the paths that depend on the lost blobs.
func (f *Fixture) affected(lost []id.ID) map[id.ID][]string {
	gone := map[id.ID]bool{}
	for _, b := range lost {
		gone[b] = true
	}
	out := map[id.ID][]string{}
	for _, sn := range f.Snapshots {
		var paths []string
		if gone[sn.Tree] {
			paths = []string{"/"}
		} else {
			var lostDirs []string
		entries:
			for _, e := range f.entries[sn.ID] {
				for _, d := range lostDirs {
					if strings.HasPrefix(e.path, d+"/") {
						continue entries
					}
				}
				switch {
				case e.kind == tree.KindDir && gone[e.subtree]:
					lostDirs = append(lostDirs, e.path)
					paths = append(paths, e.path)
				case e.kind == tree.KindFile:
					for _, b := range e.blobs {
						if gone[b] {
							paths = append(paths, e.path)
							break
						}
					}
				}
			}
		}
		if len(paths) > 0 {
			sort.Strings(paths)
			out[sn.ID] = paths
		}
	}
	return out
}

func (f *Fixture) packName(v *view, pid id.ID) string {
	f.tb.Helper()
	p, ok := v.packs[pid]
	if !ok {
		f.tb.Fatalf("repotest: pack %s is in no index segment", pid.Short())
	}
	return repo.PackName(p.Type, pid)
}

// RemovePack deletes a pack: a lost upload, or a storage that dropped it.
func (f *Fixture) RemovePack(pid id.ID) *Damage {
	f.tb.Helper()
	v := f.view()
	name := f.packName(v, pid)
	f.check(f.Backend.Remove(f.ctx, name))
	lost := v.lost(func(p id.ID, _ index.Blob) bool { return p == pid })
	return &Damage{What: "missing pack", Object: name, Pack: pid, Packs: []id.ID{pid}, Lost: lost, Affected: f.affected(lost)}
}

// TruncatePack cuts a pack short in the middle of its last blob, so that
// its header and that blob are gone while the blobs before it are whole.
func (f *Fixture) TruncatePack(pid id.ID) *Damage {
	f.tb.Helper()
	v := f.view()
	name := f.packName(v, pid)
	b, err := f.Backend.Load(f.ctx, name, 0, -1)
	f.check(err)
	var last index.Blob
	for _, bl := range v.packs[pid].Blobs {
		if bl.Offset >= last.Offset {
			last = bl
		}
	}
	cut := last.Offset + last.Length/2
	f.check(f.Backend.Save(f.ctx, name, b[:cut]))
	lost := v.lost(func(p id.ID, bl index.Blob) bool { return p == pid && bl.Offset+bl.Length > cut })
	return &Damage{What: "truncated pack", Object: name, Pack: pid, Packs: []id.ID{pid}, Lost: lost, Affected: f.affected(lost)}
}

// FlipBit flips one bit in the middle of blob bid, in the (first) pack
// holding it. Only reading the data finds it: sizes and the pack header
// are intact. BlobOf names the blob of a file.
func (f *Fixture) FlipBit(bid id.ID) *Damage {
	f.tb.Helper()
	v := f.view()
	if len(v.locs[bid]) == 0 {
		f.tb.Fatalf("repotest: blob %s is in no index segment", bid.Short())
	}
	pid := v.locs[bid][0]
	name := f.packName(v, pid)
	b, err := f.Backend.Load(f.ctx, name, 0, -1)
	f.check(err)
	var target index.Blob
	for _, bl := range v.packs[pid].Blobs {
		if bl.ID == bid {
			target = bl
		}
	}
	b[target.Offset+target.Length/2] ^= 0x10
	f.check(f.Backend.Save(f.ctx, name, b))
	lost := v.lost(func(p id.ID, bl index.Blob) bool { return p == pid && bl.ID == bid })
	return &Damage{What: "flipped bit", Object: name, Pack: pid, Packs: []id.ID{pid}, Lost: lost, Affected: f.affected(lost)}
}

// AddUnreferencedPack stores a valid data pack of three new blobs that no
// index segment names, as an ingest killed before its checkpoint leaves.
func (f *Fixture) AddUnreferencedPack() *Damage {
	f.tb.Helper()
	c := f.Repo.Codec()
	w := pack.NewWriter(id.DataBlob, 64<<10)
	rng := rand.New(rand.NewPCG(uint64(len(f.Snapshots)), 77))
	for i := 0; i < 3; i++ {
		plain := make([]byte, 10<<10)
		for j := range plain {
			plain[j] = byte(rng.Uint32())
		}
		w.Seal(c, c.ID(plain), plain)
	}
	b, pid := w.Finish(c.Key)
	name := repo.PackName(id.DataBlob, pid)
	f.check(f.Backend.Save(f.ctx, name, b))
	return &Damage{What: "unreferenced pack", Object: name, Pack: pid, Packs: []id.ID{pid}, Affected: map[id.ID][]string{}}
}

// DuplicatePack copies every blob of a pack into a second pack and names
// it in a new index segment, so each of those blobs is indexed twice, as
// two hosts storing the same data at once would do.
func (f *Fixture) DuplicatePack(pid id.ID) *Damage {
	f.tb.Helper()
	v := f.view()
	name := f.packName(v, pid)
	p := v.packs[pid]
	b, err := f.Backend.Load(f.ctx, name, 0, -1)
	f.check(err)
	w := pack.NewWriter(p.Type, len(b))
	for _, bl := range p.Blobs {
		w.AddSealed(bl.ID, b[bl.Offset:bl.Offset+bl.Length], int(bl.RawLength))
	}
	nb, npid := w.Finish(f.Repo.Codec().Key)
	entries, err := pack.Verify(f.Repo.Codec(), nb)
	f.check(err)
	nname := repo.PackName(p.Type, npid)
	f.check(f.Backend.Save(f.ctx, nname, nb))
	np := index.Pack{ID: npid, Type: p.Type}
	for _, e := range entries {
		np.Blobs = append(np.Blobs, index.Blob{ID: e.ID, Type: e.Type, Pack: npid, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
	}
	_, err = f.Repo.SaveSegment(f.ctx, &repo.Segment{Packs: []index.Pack{np}})
	f.check(err)
	return &Damage{What: "duplicate blobs", Object: nname, Pack: npid, Packs: []id.ID{pid, npid}, Affected: map[id.ID][]string{}}
}

// RemoveSegmentOf deletes the index segment that names pid (and so every
// other pack it names): the packs stay, but no index leads to them.
func (f *Fixture) RemoveSegmentOf(pid id.ID) *Damage {
	f.tb.Helper()
	v := f.view()
	d := &Damage{What: "missing index segment", Pack: pid}
	for sid, s := range v.segs {
		names := false
		for _, p := range s.Packs {
			names = names || p.ID == pid
		}
		if !names {
			continue
		}
		if d.Object != "" {
			f.tb.Fatalf("repotest: pack %s is in two index segments", pid.Short())
		}
		d.Object = "index/" + sid.String()
		for _, p := range s.Packs {
			d.Packs = append(d.Packs, p.ID)
		}
		f.check(f.Backend.Remove(f.ctx, d.Object))
	}
	if d.Object == "" {
		f.tb.Fatalf("repotest: pack %s is in no index segment", pid.Short())
	}
	after := f.view()
	for bid := range v.locs {
		if len(after.locs[bid]) == 0 {
			d.Lost = append(d.Lost, bid)
		}
	}
	sortIDs(d.Lost)
	d.Affected = f.affected(d.Lost)
	f.check(f.Repo.SyncIndex(f.ctx))
	return d
}

// DamageSnapshot changes one byte in the middle of a snapshot object. The
// snapshot can no longer be read at all; Affected is empty, as what it
// referenced is intact.
func (f *Fixture) DamageSnapshot(sid id.ID) *Damage {
	f.tb.Helper()
	name := "snapshots/" + sid.String()
	b, err := f.Backend.Load(f.ctx, name, 0, -1)
	f.check(err)
	b[len(b)/2] ^= 0x01
	f.check(f.Backend.Save(f.ctx, name, b))
	return &Damage{What: "damaged snapshot", Object: name, Snapshot: sid, Affected: map[id.ID][]string{}}
}

// DanglingBlob replaces the latest snapshot by one in which the file at
// rel (relative to Source) references, as its first chunk, a blob that
// is stored nowhere, as a bug or an over-eager prune would leave it. The
// folders above the file get new trees; the old snapshot object is
// removed and Snapshots updated.
func (f *Fixture) DanglingBlob(rel string) *Damage {
	f.tb.Helper()
	old := f.Latest()
	var ghost id.ID
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range ghost {
		ghost[i] = byte(rng.Uint32())
	}
	s := f.Repo.NewSaver(f.ctx, 1)
	comps := strings.Split(strings.Trim(f.Path(rel), "/"), "/")
	var rewrite func(tid id.ID, comps []string) id.ID
	rewrite = func(tid id.ID, comps []string) id.ID {
		nodes, err := f.Repo.LoadTree(f.ctx, tid)
		f.check(err)
		for _, n := range nodes {
			if n.Name != comps[0] {
				continue
			}
			if len(comps) == 1 {
				if n.Kind != tree.KindFile || len(n.Content) == 0 || n.Content[0].Hole {
					f.tb.Fatalf("repotest: %s is not a file with data", rel)
				}
				n.Content[0].ID = ghost
			} else {
				n.Subtree = rewrite(n.Subtree, comps[1:])
			}
			tid, err := s.SaveTree(nodes)
			f.check(err)
			return tid
		}
		f.tb.Fatalf("repotest: %s is not in snapshot %s", rel, old.ID.Short())
		return id.ID{}
	}
	root := rewrite(old.Tree, comps)
	f.check(s.Flush())
	sn := *old
	sn.Tree = root
	sn.ID = id.ID{}
	f.check(f.Repo.SaveSnapshot(f.ctx, &sn))
	f.check(f.Backend.Remove(f.ctx, "snapshots/"+old.ID.String()))
	_, err := f.Repo.Snapshots(f.ctx, func(error) {})
	f.check(err)
	f.record(&sn)
	delete(f.entries, old.ID)
	f.Snapshots[len(f.Snapshots)-1] = &sn
	lost := []id.ID{ghost}
	return &Damage{What: "dangling blob", Object: "snapshots/" + sn.ID.String(), Snapshot: sn.ID, Lost: lost, Affected: f.affected(lost)}
}
