package local

import (
	"container/list"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// keepOpenMax bounds the files Load keeps open: a restore moves through
// packs in the order the files need them, and comes back to few. A file
// unused for keepOpenIdle is closed, so that a long-running process (the
// daemon) does not keep the space of packs another process removed.
const (
	keepOpenMax  = 64
	keepOpenIdle = 10 * time.Second
)

// openFiles keeps recently read files open, for objects whose names start
// with one of its prefixes: objects the caller promises never change once
// written (a repository's packs, named by their contents). Opening the
// file for each read costs more than the read itself when a restore reads
// thousands of blobs, one by one, out of each pack.
type openFiles struct {
	mu       sync.Mutex
	prefixes []string
	byName   map[string]*list.Element // of *openFile
	lru      list.List                // front: most recently used
	sweeping bool                     // a sweep is scheduled
	// gen counts forgets: a load that opened a file before one and
	// offers it after does not get it kept (it may be of a removed or
	// replaced object).
	gen uint64
}

type openFile struct {
	name string
	f    *os.File
	size int64
	refs int  // loads using it now
	gone bool // evicted: the last load to finish closes it
	used time.Time
}

// KeepOpen makes Load keep up to 64 files open whose object names start
// with one of prefixes, which the caller promises no other process
// rewrites (it may remove them; this one's Remove, Save and Create forget
// the kept file). Without it every load opens its file.
func (l *Local) KeepOpen(prefixes ...string) {
	l.open.mu.Lock()
	defer l.open.mu.Unlock()
	for _, p := range prefixes {
		if !slices.Contains(l.open.prefixes, p) {
			l.open.prefixes = append(l.open.prefixes, p)
		}
	}
	if l.open.byName == nil {
		l.open.byName = map[string]*list.Element{}
	}
}

func (o *openFiles) keeps(name string) bool {
	for _, p := range o.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// get returns the open file of name, or nil when none is kept, and the
// generation to offer a file opened meanwhile with (add). The caller hands
// a file it got back with put.
func (o *openFiles) get(name string) (*openFile, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.byName[name]
	if e == nil {
		return nil, o.gen
	}
	o.lru.MoveToFront(e)
	of := e.Value.(*openFile)
	of.refs++
	of.used = time.Now()
	return of, o.gen
}

// add keeps f, opened and checked since get returned gen, for name and
// returns it in use, or the one another load kept meanwhile (closing f),
// or nil if name is not to be kept or something was forgotten since gen.
func (o *openFiles) add(name string, f *os.File, size int64, gen uint64) *openFile {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.keeps(name) || gen != o.gen {
		return nil
	}
	if e := o.byName[name]; e != nil {
		f.Close()
		of := e.Value.(*openFile)
		of.refs++
		o.lru.MoveToFront(e)
		return of
	}
	of := &openFile{name: name, f: f, size: size, refs: 1, used: time.Now()}
	o.byName[name] = o.lru.PushFront(of)
	for o.lru.Len() > keepOpenMax {
		o.evict(o.lru.Back())
	}
	if !o.sweeping {
		o.sweeping = true
		time.AfterFunc(keepOpenIdle, o.sweep)
	}
	return of
}

// sweep closes the files unused for keepOpenIdle, and comes back while
// some are kept.
func (o *openFiles) sweep() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for e := o.lru.Back(); e != nil && time.Since(e.Value.(*openFile).used) >= keepOpenIdle; e = o.lru.Back() {
		o.evict(e)
	}
	o.sweeping = o.lru.Len() > 0
	if o.sweeping {
		time.AfterFunc(keepOpenIdle, o.sweep)
	}
}

// put ends a load's use of of.
func (o *openFiles) put(of *openFile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	of.refs--
	if of.gone && of.refs == 0 {
		of.f.Close()
	}
}

// forget closes name's file, if kept, once no load uses it.
func (o *openFiles) forget(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	if e := o.byName[name]; e != nil {
		o.evict(e)
	}
}

// closeAll closes every kept file no load uses; the others close when
// their loads end.
func (o *openFiles) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	for o.lru.Len() > 0 {
		o.evict(o.lru.Back())
	}
}

func (o *openFiles) evict(e *list.Element) {
	of := o.lru.Remove(e).(*openFile)
	delete(o.byName, of.name)
	of.gone = true
	if of.refs == 0 {
		of.f.Close()
	}
}
