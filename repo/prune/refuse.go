package prune

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/repo"
)

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRefused}, args...)...)
}

// whatToRun is the advice for err: repair for damage, else trying again.
func whatToRun(err error, repair string) string {
	if errors.Is(err, repo.ErrDamaged) || errors.Is(err, repo.ErrNotFound) {
		return "run " + repair
	}
	return "make sure the storage is reachable and run prune again (if it keeps failing, run `cairn check`)"
}

// doubts refuses to go on when what was listed does not add up: deleting
// on the word of a listing that is empty, partial or inconsistent could
// delete everything.
func (p *plan) doubts(snapshots int, allowNoSnapshots bool) error {
	if p.stats.Packs > 0 && len(p.segments) == 0 {
		return refuse("the repository holds %s but no index segment; if the index was lost, run `cairn repair index`", packs(p.stats.Packs))
	}
	if p.stats.Packs > 0 && snapshots == 0 && !allowNoSnapshots {
		return refuse("the repository holds %s but no snapshot; check with `cairn snapshots`, and if every snapshot was removed on purpose, run prune with --unsafe-allow-no-snapshots", packs(p.stats.Packs))
	}
	var missing, short []string
	for _, pk := range p.packs {
		if pk.indexed && !pk.listed {
			missing = append(missing, pk.name)
			continue
		}
		for _, b := range pk.blobs {
			if int64(b.Offset)+int64(b.Length) > pk.size {
				short = append(short, pk.name)
				break
			}
		}
	}
	if len(missing) > 0 {
		return refuse("%s missing from storage (%s); run `cairn check`, then `cairn repair index`", are(len(missing), "indexed pack"), first(missing))
	}
	if len(short) > 0 {
		return refuse("%s shorter than the index says (%s); run `cairn check`, then `cairn repair index`", are(len(short), "pack"), first(short))
	}
	return nil
}

func packs(n int) string {
	if n == 1 {
		return "1 pack"
	}
	return fmt.Sprintf("%d packs", n)
}

// are is "1 pack is", "2 packs are".
func are(n int, what string) string {
	if n == 1 {
		return "1 " + what + " is"
	}
	return fmt.Sprintf("%d %ss are", n, what)
}

// first lists the first few of names, sorted.
func first(names []string) string {
	sort.Strings(names)
	if len(names) > 3 {
		return strings.Join(names[:3], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}
