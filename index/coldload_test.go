package index

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/repo/id"
)

// BenchmarkColdLoad records 1,000,000 blobs as a cold open of the local
// index does (new host, lost cache): batches of 100 segments of 1,000
// blobs (segmentBatchBlobs), each now committed every putTxBlobs blobs,
// and reports the time, the file's size and how full the blob index's
// leaves are. Run it on a real disk, as each commit syncs:
// TMPDIR=/var/tmp go test ./index -run '^$' -bench ColdLoad -benchtime 1x
//
// On 2 shared cores: one transaction per batch took 13.2 s, a 264 MiB
// file and 620 MB of memory; one per putTxBlobs 6 to 9.5 s, 148 MiB and
// 200 MB (the 245 syncs cost less than the nodes a large transaction
// holds and rewrites). Without syncs (bbolt's NoSync) it took some 20%
// less; not done, as after a power loss bbolt may then find pages
// overwritten that its last synced state still uses. A FillPercent of 0.9
// left the leaves 44% full instead of 68%: each batch's keys land among
// the earlier ones', and a full leaf splits into a full and a near-empty
// one.
func BenchmarkColdLoad(b *testing.B) {
	const batches, perBatch, perSeg = 10, 100, 1000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		d, err := Open(filepath.Join(dir, "index.db"), "repo-a", time.Second)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for bt := 0; bt < batches; bt++ {
			var segs []SegmentAdd
			for s := 0; s < perBatch; s++ {
				n := bt*perBatch + s
				pk := Pack{ID: hashID(uint64(1<<40 + n)), Type: id.DataBlob}
				for j := 0; j < perSeg; j++ {
					pk.Blobs = append(pk.Blobs, Blob{ID: hashID(uint64(n*perSeg + j)), Type: id.DataBlob, Offset: uint32(j * 10), Length: 10, RawLength: 10})
				}
				segs = append(segs, SegmentAdd{ID: hashID(uint64(1<<50 + n)), Info: SegmentInfo{Loaded: true}, Packs: []Pack{pk}})
			}
			if err := d.AddSegmentInfos(segs); err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(start)
		d.bolt.View(func(tx *bolt.Tx) error {
			st := tx.Bucket(bBlobs).Stats()
			b.ReportMetric(float64(st.LeafPageN), "blob-leaves")
			b.ReportMetric(float64(st.LeafInuse)/float64(st.LeafPageN*4096), "blob-fill")
			return nil
		})
		b.ReportMetric(float64(d.bolt.Stats().FreePageN), "free-pages")
		d.Close()
		fi, err := os.Stat(filepath.Join(dir, "index.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(el.Seconds(), "s/load")
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	}
}
