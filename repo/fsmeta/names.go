package fsmeta

import (
	"os/user"
	"strconv"
	"sync"
)

// nameCache maps numeric ids to user and group names. Each id is looked up
// once per process, including ids that have no name, so a tree of a million
// files owned by a few ids costs a few lookups.
type nameCache struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

var names = nameCache{users: map[uint32]string{}, groups: map[uint32]string{}}

// userName returns the name of uid, or "" if it has none.
func userName(uid uint32) string {
	return names.get(names.users, uid, func(s string) (string, error) {
		u, err := user.LookupId(s)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
}

// groupName returns the name of gid, or "" if it has none.
func groupName(gid uint32) string {
	return names.get(names.groups, gid, func(s string) (string, error) {
		g, err := user.LookupGroupId(s)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	})
}

// get looks id up in m, calling lookup outside the lock on a miss so a slow
// name service does not serialise callers; a racing duplicate lookup is
// harmless. A failed lookup caches "".
func (c *nameCache) get(m map[uint32]string, id uint32, lookup func(string) (string, error)) string {
	c.mu.Lock()
	name, ok := m[id]
	c.mu.Unlock()
	if ok {
		return name
	}
	name, err := lookup(strconv.FormatUint(uint64(id), 10))
	if err != nil {
		name = ""
	}
	c.mu.Lock()
	m[id] = name
	c.mu.Unlock()
	return name
}
